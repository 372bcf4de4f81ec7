"""``connector replay``: re-run records by key, time range or state, or show what would be sent."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from services.cli.db_cmd import database
from shared.kafka.producer import Publisher
from shared.kafka.topics import Topics
from shared.replay import STATES, UNFINISHED, Replay, Selection, plan, select, send
from shared.settings import Settings
from shared.stack import resolve_endpoints


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", help="one record key, e.g. acme:invoice:48213")
    parser.add_argument(
        "--state",
        action="append",
        choices=(*STATES, "unfinished"),
        help="only records in this state (repeatable); 'unfinished' = " + ", ".join(UNFINISHED),
    )
    parser.add_argument("--since", type=datetime.fromisoformat, help="changed at or after (ISO)")
    parser.add_argument("--until", type=datetime.fromisoformat, help="changed before (ISO)")
    parser.add_argument("--connection", help="only this connection")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent, send nothing"
    )


def selection_from(args: argparse.Namespace) -> Selection:
    states: list[str] = []
    for state in args.state or ():
        states += UNFINISHED if state == "unfinished" else (state,)
    return Selection(
        record_key=args.record,
        states=tuple(states),
        since=args.since,
        until=args.until,
        connection=args.connection,
    )


def run(args: argparse.Namespace) -> int:
    selection = selection_from(args)
    if selection == Selection():
        print("connector replay: say what to replay (--record, --state, --since/--until)")
        return 2
    return asyncio.run(_run(selection, dry_run=args.dry_run))


async def _run(selection: Selection, *, dry_run: bool) -> int:
    settings = Settings()
    topics = Topics(settings.kafka.topic_prefix)
    async with database(settings, "replay") as conn:
        replays = plan(await select(conn, selection), topics)
        for replay in replays:
            print(_describe(replay, dry_run=dry_run))
        if not dry_run and replays:
            publisher = Publisher(resolve_endpoints(settings).kafka_bootstrap, settings.kafka)
            await publisher.start()
            try:
                await send(conn, publisher, replays, by="replay")
            finally:
                await publisher.stop()
    verb = "would replay" if dry_run else "replayed"
    print(f"{verb} {len(replays)} record(s)")
    return 0


def _describe(replay: Replay, *, dry_run: bool) -> str:
    prefix = "would send" if dry_run else "sending"
    line = f"{prefix} {replay.envelope.schema_name} for {replay.record_key} ({replay.state})"
    line += f" to {replay.topic}"
    if dry_run:
        line += "\n    " + replay.envelope.model_dump_json(by_alias=True)
    return line
