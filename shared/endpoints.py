"""Where the Postgres and broker endpoints come from: settings first, else the embedded stack.

``connector dev`` writes ``<state_dir>/stack.json`` with the endpoints of the embedded servers it
runs, so ``connector migrate`` or a single service started by hand in the same folder find them
without any setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from shared.settings import Settings

STACK_FILE = "stack.json"
# Off the usual 5432/9092 so the embedded stack never collides with a locally installed server.
DEFAULT_POSTGRES_PORT = 15432
DEFAULT_BROKER_PORT = 19092


class StackNotFoundError(RuntimeError):
    """Neither a setting nor a running embedded stack says where Postgres or Kafka are."""


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    kafka_bootstrap: str


def stack_file(settings: Settings) -> Path:
    return Path(settings.state_dir) / STACK_FILE


def pgdata_dir(settings: Settings) -> Path:
    """Where the embedded Postgres keeps its data, so a restart finds it again."""
    return Path(settings.state_dir) / "pgdata"


def write_stack(settings: Settings, endpoints: Endpoints, supervisor_pid: int) -> None:
    path = stack_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "database_url": endpoints.database_url,
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "supervisor_pid": supervisor_pid,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(body))
    tmp.replace(path)


def remove_stack(settings: Settings) -> None:
    stack_file(settings).unlink(missing_ok=True)


def running_stack(settings: Settings) -> dict[str, object] | None:
    """The state of the ``connector dev`` that runs from this folder, if one does."""
    path = stack_file(settings)
    if not path.exists():
        return None
    state: dict[str, object] = orjson.loads(path.read_bytes())
    pid = state.get("supervisor_pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return state


def resolve_database_url(settings: Settings) -> str | None:
    """The configured database URL, else the running embedded stack's, else None."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    stack = running_stack(settings)
    return str(stack["database_url"]) if stack else None


def resolve_endpoints(settings: Settings) -> Endpoints:
    """The configured endpoints, filling what is unset from the running embedded stack."""
    database_url = resolve_database_url(settings)
    bootstrap = settings.kafka_bootstrap
    if bootstrap is None:
        stack = running_stack(settings)
        bootstrap = str(stack["kafka_bootstrap"]) if stack else None
    if database_url is None or bootstrap is None:
        raise StackNotFoundError(
            "CONNECTOR_DATABASE_URL and CONNECTOR_KAFKA_BOOTSTRAP are not both set and no "
            f"embedded stack runs from {Path(settings.state_dir).resolve()}: start `connector dev` "
            "in this folder, or set both variables to point at real servers"
        )
    return Endpoints(database_url, bootstrap)
