"""Paging through what changed since an instant, on Coupa's documented order only: keyset by id.

Coupa documents that an index answers in ascending ``id`` (coupa-api.md §3.2 "Page size") and that
any element filters with an operator (``id[gt]``, ``updated-at[gt_or_eq]``; §3.2 "Operators"). It
does not document that it honours ``order_by=updated_at`` (§3.2 "Query parameters"), and a walk
that restarts each page at the last ``updated-at`` seen skips records when Coupa answers in id
order instead. So every page of a walk asks for the same ``updated-at[gt_or_eq]=since`` and for
``id[gt]=<last id read>``, with no ``order_by`` and no ``offset``:

- a record that leaves the result set (marked exported, voided) shifts nothing, as it would under
  offset paging (§3.2 "Paging pitfall");
- a record that changes ahead of the walk's position is read once, in its new version; one that
  changes behind it is not read again by this walk, but its new ``updated-at`` is later than the
  walk's start, which the poller never moves its cursor past (``services/ingest/poller.py``);
- ids rise strictly, so no record is yielded twice.

The order is checked, not trusted: a page whose ids do not rise past the last id read stops the
walk with ``PageOrderError`` (fatal, so the caller's cursor stays put) instead of skipping.

A walk may also stop short of an instant (``updated-at[lt]``), and may ask only for each record's
identity (``fields=["id","updated-at"]``, §3.2 "Payload trimming"): ``Listed`` is what such a
listing yields, so a caller fetches in full only the versions it does not hold yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.coupa.models import coupa_version, timestamp_of
from shared.http.errors import FatalError

# What a listing asks for: the id that pages it and the ``updated-at`` that names each version.
IDENTITY_FIELDS = '["id","updated-at"]'


class PageOrderError(FatalError):
    """Coupa answered out of its documented ascending-id order: walking on could skip records."""


def coupa_datetime(moment: datetime) -> str:
    """ISO 8601 with offset, second precision; naive values are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def coupa_instant(value: object) -> datetime | None:
    """The instant a Coupa datetime names, naive taken as UTC as in ``coupa_datetime``, so that
    instants always compare; None when it is not one."""
    moment = timestamp_of(value)
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class Listed:
    """One record of a listing: its id and its version (``updated-at`` as Coupa wrote it, the
    name inbox and records give a version), and the instant it names."""

    id: int
    version: str
    updated_at: datetime | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Listed:
        """The identity of a record whose id the pager has already checked."""
        version = coupa_version(record)
        return cls(int(record["id"]), version, coupa_instant(version))


class ChangedSincePager:
    """Page state for one walk: the fixed ``since`` (and ``until``), the last id read, and
    ``has_more``."""

    def __init__(self, since: datetime | None, limit: int, until: datetime | None = None) -> None:
        self.limit = limit
        self.since = coupa_datetime(since) if since else None
        self.until = coupa_datetime(until) if until else None
        self.last_id: int | None = None
        self.has_more = True

    def params(self) -> dict[str, str]:
        """Query parameters for the next page."""
        params = {"limit": str(self.limit)}
        if self.since is not None:
            params["updated-at[gt_or_eq]"] = self.since
        if self.until is not None:
            params["updated-at[lt]"] = self.until
        if self.last_id is not None:
            params["id[gt]"] = str(self.last_id)
        return params

    def advance(self, page: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
        """Take a page, check that its ids rise past the last one read, and return it."""
        for record in page:
            record_id = record.get("id")
            if not isinstance(record_id, int) or isinstance(record_id, bool):
                raise PageOrderError(f"a record after id {self.last_id} has no numeric id")
            if self.last_id is not None and record_id <= self.last_id:
                raise PageOrderError(
                    f"id {record_id} came after id {self.last_id}: Coupa is not answering in"
                    " ascending id, or ignores id[gt]"
                )
            self.last_id = record_id
        # Coupa answers at most ``limit`` records (§3.2 "Page size"): a shorter page is the last.
        self.has_more = len(page) >= self.limit
        return page
