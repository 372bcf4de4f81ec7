"""Who a call to Coupa or Deltek is made for: connection, job and record, carried in contextvars.

The HTTP transports sit deep under the clients, which are shared by every job of a connection, so
they cannot be told per call. A handler binds its message once (``bound`` or ``for_message``)
and every call made inside, in this task or in the tasks it starts, is measured and logged with
it. Outside any binding the fields are empty strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Protocol


@dataclass(frozen=True)
class CallContext:
    connection: str = ""
    job: str = ""
    record: str = ""


_NONE = CallContext()
_CURRENT: ContextVar[CallContext] = ContextVar("call_context")


class Message(Protocol):
    """What ``for_message`` reads: an ``Envelope`` has it."""

    @property
    def connection(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


def current() -> CallContext:
    return _CURRENT.get(_NONE)


@contextmanager
def bound(
    *, connection: str | None = None, job: str | None = None, record: str | None = None
) -> Iterator[CallContext]:
    """Bind the fields given; the rest keep what an outer binding set."""
    given = {"connection": connection, "job": job, "record": record}
    context = replace(current(), **{k: v for k, v in given.items() if v is not None})
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def for_message(message: Message) -> AbstractContextManager[CallContext]:
    """``with for_message(envelope):``: its connection, record key and command's ``job_id``."""
    job = message.payload.get("job_id")
    return bound(
        connection=message.connection,
        record=message.key,
        job=job if isinstance(job, str) else None,
    )
