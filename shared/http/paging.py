"""Offset paging as an object: the next offset, whether there is more, and loop detection."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from shared.http.errors import FatalError


class PagingLoopError(FatalError):
    """The server returned a page already seen: it is ignoring ``offset`` and would loop forever."""


class OffsetPaginator:
    """Tracks ``offset``/``limit`` paging over an API that signals the end with a short page.

    A page shorter than ``limit`` (including empty) is the last. A page whose keys were already
    seen in an earlier page means the server ignores our offset; stopping there beats looping.
    """

    def __init__(self, limit: int, *, start: int = 0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.offset = start
        self.has_more = True
        self.pages = 0
        self._seen: set[tuple[Hashable, ...]] = set()

    def advance(self, page_keys: Sequence[Hashable]) -> None:
        """Record a page by the keys of its items (ids) and move to the next offset."""
        self.pages += 1
        signature = tuple(page_keys)
        if signature and signature in self._seen:
            raise PagingLoopError(f"page at offset {self.offset} repeats an earlier page")
        self._seen.add(signature)
        self.offset += len(signature)
        if len(signature) < self.limit:
            self.has_more = False
