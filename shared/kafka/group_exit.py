"""How a consumer goes out of its group: with a LeaveGroup, or silently, dropped by the broker
when its session times out.

Leaving is what Apache Kafka expects: the member's partitions move at once. Tansu 0.6 (the
embedded broker) mishandles one case: when the member that leaves is the leader of a rebalance
in progress, the group keeps it as its leader, so no member is ever handed an assignment again
and every consumer waits in ``start()`` for good (the two-poster chaos stall). A member dropped
by its session timeout instead is removed together with its leadership, and the group forms
again. ``KafkaTuning.leave_group_on_stop`` chooses; see docs/decisions.md.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer


def leave_silently(consumer: AIOKafkaConsumer) -> None:
    """Make every later way out of the group (``stop()``, aiokafka's own max-poll-interval
    check) forget the membership without a LeaveGroup request.

    aiokafka has no option for this; its coordinator sends the request from
    ``_maybe_leave_group``, so that one method is replaced on this consumer's coordinator by one
    that only forgets the member id and generation, as the original does after sending. Called
    once the coordinator exists (``start()`` got as far as the group); before that there is no
    membership to leave.
    """
    coordinator = consumer._coordinator  # private: see the docstring
    if coordinator is None:
        return

    async def forget_membership() -> None:
        coordinator.reset_generation()

    coordinator._maybe_leave_group = forget_membership
