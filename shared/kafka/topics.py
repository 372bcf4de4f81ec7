"""Topic names and their creation; every name can carry a prefix so tests never share topics."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import Settings

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topics:
    """The pipeline's topics (architecture §2) under one prefix."""

    prefix: str = ""

    @property
    def coupa_invoices(self) -> str:
        return f"{self.prefix}coupa.invoices"

    @property
    def coupa_suppliers(self) -> str:
        return f"{self.prefix}coupa.suppliers"

    @property
    def deltek_writes(self) -> str:
        return f"{self.prefix}deltek.writes"

    @property
    def deltek_results(self) -> str:
        return f"{self.prefix}deltek.results"

    def main(self) -> list[str]:
        return [self.coupa_invoices, self.coupa_suppliers, self.deltek_writes, self.deltek_results]

    def all(self) -> list[str]:
        """Every topic including the dead-letter topic of each."""
        return [name for topic in self.main() for name in (topic, dead_letter_topic(topic))]


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


async def ensure_pipeline_topics(settings: Settings, bootstrap: str) -> list[str]:
    """Every pipeline topic and its dead-letter topic, laid out as the settings say."""
    return await ensure_topics(
        bootstrap,
        Topics(settings.kafka.topic_prefix).all(),
        partitions=settings.kafka.partitions,
        replication_factor=settings.kafka.replication_factor,
    )


async def ensure_topics(
    bootstrap: str, names: list[str], *, partitions: int, replication_factor: int
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if missing:
            new = [NewTopic(name, partitions, replication_factor) for name in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                log.info(
                    "topics created concurrently by another process", extra={"topics": missing}
                )
        return missing
    finally:
        await admin.close()
