"""Incremental paging over ``updated-at``: a cursor that cannot skip records when the set changes.

Plain offset paging over ``updated-at >= since`` loses records when earlier ones leave the result
set mid-walk (coupa-api.md §3.2 "Paging pitfall"): marking invoices exported moves them, so the
unseen ones shift below the next offset. Here each page restarts at the last ``updated-at`` seen
(``updated-at[gt_or_eq]``, ``order_by=updated_at``) with ``offset`` 0, and the few records at
that exact instant already yielded are dropped by id. Only when more than a page of records share
one instant does ``offset`` step through them (then a change inside that group can still shift it;
the poller's overlap window re-reads such a group on its next run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.http.paging import PagingLoopError

UPDATED_AT = "updated-at"


def coupa_datetime(moment: datetime) -> str:
    """ISO 8601 with offset, second precision; naive values are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


class UpdatedAtPager:
    """Page state for one walk: cursor, tie offset, ``has_more`` and loop detection."""

    def __init__(self, since: datetime | None, limit: int) -> None:
        self.limit = limit
        self.cursor: str | None = coupa_datetime(since) if since else None
        self._cursor_at: datetime | None = since
        self.offset = 0
        self.has_more = True
        self.pages = 0
        self._yielded_at_cursor: set[Any] = set()

    def params(self) -> dict[str, str]:
        """Query parameters for the next page."""
        params = {
            "order_by": "updated_at",
            "dir": "asc",
            "limit": str(self.limit),
            "offset": str(self.offset),
        }
        if self.cursor is not None:
            params["updated-at[gt_or_eq]"] = self.cursor
        return params

    def advance(self, page: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Take a page; return the records not yielded before and move the cursor past them."""
        self.pages += 1
        if len(page) < self.limit:
            self.has_more = False
        fresh = [r for r in page if r.get("id") not in self._yielded_at_cursor]
        if page and not fresh and self.has_more:
            raise PagingLoopError(f"a full page at offset {self.offset} brought nothing new")
        if not page:
            return fresh
        last = page[-1].get(UPDATED_AT)
        last_at = datetime.fromisoformat(last) if isinstance(last, str) else None
        if last_at is None:
            raise PagingLoopError("records carry no updated-at; cannot page incrementally")
        ties = {r.get("id") for r in page if _parse(r.get(UPDATED_AT)) == last_at}
        if self._cursor_at is not None and last_at == self._cursor_at:
            # The whole page sits at the cursor instant: step over it.
            self.offset += len(page)
            self._yielded_at_cursor |= ties
        else:
            self.cursor, self._cursor_at = last, last_at
            self._yielded_at_cursor = ties
            # Restart at the instant itself unless the page held nothing else, which would loop.
            self.offset = len(ties) if len(ties) == len(page) else 0
        return fresh


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
