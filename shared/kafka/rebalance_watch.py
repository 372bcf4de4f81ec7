"""Noticing a consumer-group rebalance that never finishes, so the consumer can start afresh.

A healthy rebalance ends within the group's rebalance timeout plus a drain: Apache Kafka drops
a member that does not rejoin in time, and the rest are assigned. One that goes on far longer
is a stuck join (a broker fault, a coordinator that lost track of its leader); the consumer
loop then closes its consumer and joins again as a new member, and says so in the log and in
``connector_consumer_stuck_rebalances_total``, which an alert can watch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)


class RebalanceWatch:
    """Told when a rebalance starts (partitions revoked) and ends (partitions assigned);
    ``stuck`` once one has gone on for more than ``limit`` seconds."""

    def __init__(
        self,
        group: str,
        limit: float,
        stuck: Counter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group = group
        self._limit = limit
        self._clock = clock
        self._since: float | None = None
        self._stuck = stuck.labels(group)

    def started(self) -> None:
        """A rebalance began (aiokafka revokes before every join, even the first)."""
        if self._since is None:
            self._since = self._clock()

    def ended(self) -> None:
        self._since = None

    def stuck(self) -> bool:
        """True, logged and counted once, when the rebalance in progress exceeded the limit."""
        if self._since is None:
            return False
        waited = self._clock() - self._since
        if waited <= self._limit:
            return False
        self._since = None
        self._stuck.inc()
        log.error(
            "consumer group rebalance stuck, joining again as a new member",
            extra={"group": self._group, "seconds": round(waited)},
        )
        return True
