"""``connector audit RECORD``: a record's whole story, every version and every step."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import orjson

from services.cli.db_cmd import database
from shared.db.pool import Connection
from shared.settings import Settings

_DETAIL_WIDTH = 110
# Shown first in an event's line, so the cut to one line keeps why and which Deltek voucher.
_LEADING = ("reason", "voucher", "deltek_ref", "outcome")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "record", help="a record key (acme:invoice:48213), a record id, or a Coupa invoice number"
    )
    parser.add_argument("--json", action="store_true", help="every event in full, as JSON lines")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args.record, as_json=args.json))


async def _run(wanted: str, *, as_json: bool) -> int:
    async with database(Settings(), "audit") as conn:
        keys = await find_record_keys(conn, wanted)
        if not keys:
            print(f"no record matches {wanted!r}")
            return 1
        for key in keys:
            print(await story(conn, key, as_json=as_json))
    return 0


async def find_record_keys(conn: Connection, wanted: str) -> list[str]:
    """Record keys for a key, an id, or an invoice number (which may exist in two connections)."""
    rows = await conn.fetch(
        """SELECT DISTINCT record_key FROM records
            WHERE record_key = $1
               OR ($1 ~ '^[0-9]+$' AND id = $1::bigint)
               OR payload -> 'invoice' ->> 'invoice-number' = $1
            ORDER BY record_key""",
        wanted,
    )
    return [row["record_key"] for row in rows]


async def story(conn: Connection, record_key: str, *, as_json: bool = False) -> str:
    """The versions of a record and its audit events in order, as text for a person."""
    versions = await conn.fetch(
        """SELECT id, version, state, job_id, parked_reason, last_error, deltek_ref
             FROM records WHERE record_key = $1 ORDER BY id""",
        record_key,
    )
    events = await conn.fetch(
        """SELECT occurred_at, service, event, details, topic, kafka_partition, kafka_offset,
                  record_id
             FROM audit_events WHERE record_key = $1 ORDER BY id""",
        record_key,
    )
    if as_json:
        return "\n".join(orjson.dumps(dict(event), default=str).decode() for event in events)
    lines = [f"{record_key}"]
    for version in versions:
        lines.append(
            f"  version {version['version'] or '-'} (record {version['id']}): {version['state']}"
            + _suffix(version)
        )
    for event in events:
        where = (
            f" {event['topic']}[{event['kafka_partition']}]@{event['kafka_offset']}"
            if event["topic"]
            else ""
        )
        when = event["occurred_at"].isoformat(timespec="milliseconds")
        lines.append(f"  {when}  {event['service']:<8} {event['event']:<14}{where}")
        if event["details"]:
            lines.append(f"      {_summary(event['details'])}")
    return "\n".join(lines)


def _suffix(version: Any) -> str:
    parts = []
    if version["job_id"]:
        parts.append(f"job {version['job_id']}")
    if version["deltek_ref"]:
        parts.append(f"Deltek {version['deltek_ref']}")
    if version["parked_reason"] or version["last_error"]:
        parts.append(f"reason: {version['parked_reason'] or version['last_error']}")
    return f" — {', '.join(parts)}" if parts else ""


def _summary(details: dict[str, Any]) -> str:
    leading = {key: details[key] for key in _LEADING if details.get(key) is not None}
    text = orjson.dumps(leading | details, default=str).decode()
    return text if len(text) <= _DETAIL_WIDTH else text[: _DETAIL_WIDTH - 1] + "…"
