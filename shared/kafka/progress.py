"""How far each partition may be committed while many of its messages are handled at once.

Messages finish out of order when several are in flight, yet Kafka keeps one offset per
partition: everything below it counts as done. So the commit point is the offset after the
longest run of finished messages from the oldest one still tracked, the lowest unfinished
message stays uncommitted, and a crash re-delivers it and everything after it (the handlers are
idempotent). A message that never finishes (stopped mid-retry) holds its partition's commit
point back for good, which is the at-least-once promise.
"""

from __future__ import annotations

from collections import deque


class PartitionProgress:
    """One partition's offsets from hand-out to finish; ``commit_point``: what to commit."""

    def __init__(self) -> None:
        self._order: deque[int] = deque()
        self._finished: set[int] = set()
        self._next: int | None = None
        self._committed: int | None = None

    @property
    def unfinished(self) -> int:
        return len(self._order) - len(self._finished)

    def started(self, offset: int) -> None:
        """A fetched message handed to its handler (offsets arrive in increasing order)."""
        self._order.append(offset)

    def finished(self, offset: int) -> None:
        """The message is done (handled or dead-lettered): it may count as committed."""
        self._finished.add(offset)
        while self._order and self._order[0] in self._finished:
            done = self._order.popleft()
            self._finished.discard(done)
            self._next = done + 1

    def first_unfinished(self) -> int | None:
        """The lowest offset handed out and not done (what a lag must count from)."""
        return self._order[0] if self._order else None

    def commit_point(self) -> int | None:
        """The next offset to commit, if it moved since the last ``committed``."""
        return None if self._next == self._committed else self._next

    def committed(self, offset: int) -> None:
        self._committed = offset
