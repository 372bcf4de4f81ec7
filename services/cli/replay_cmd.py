"""``connector replay``: re-run records by key, time range or state, or take dead letters back;
``--dry-run`` shows what would be sent."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from services.cli.db_cmd import database
from services.cli.progress import Step, add_quiet_flag, progress
from shared.db.pool import Connection as Db
from shared.dead_letters import Choice, DeadLetter, not_replayed, read_dead_letters, replay
from shared.endpoints import resolve_endpoints
from shared.kafka.producer import Publisher
from shared.kafka.topics import DLQ_SUFFIX, Topics, dead_letter_topic
from shared.logs import redact
from shared.replay import STATES, UNFINISHED, Replay, Selection, plan, select, send
from shared.settings import Settings


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
    add_quiet_flag(parser)
    letters = parser.add_argument_group("dead letters")
    letters.add_argument(
        "--dead-letters",
        metavar="TOPIC",
        help="re-publish the dead letters of TOPIC (e.g. coupa.invoices) to it, each once",
    )
    letters.add_argument("--key", help="only dead letters with this message key")
    letters.add_argument(
        "--offset",
        type=_coordinates,
        metavar="PARTITION:OFFSET",
        help="only the dead letter that failed at this partition and offset of TOPIC",
    )


def _coordinates(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise argparse.ArgumentTypeError("give PARTITION:OFFSET, e.g. 0:17")
    return int(partition), int(offset)


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
    if args.dead_letters:
        partition, offset = args.offset or (None, None)
        choice = Choice(key=args.key, partition=partition, offset=offset)
        return asyncio.run(
            _run_dead_letters(args.dead_letters, choice, dry_run=args.dry_run, quiet=args.quiet)
        )
    if args.key or args.offset:
        print("connector replay: --key and --offset choose among --dead-letters TOPIC")
        return 2
    selection = selection_from(args)
    if selection == Selection():
        print("connector replay: say what to replay (--record, --state, --since/--until)")
        return 2
    return asyncio.run(_run(selection, dry_run=args.dry_run, quiet=args.quiet))


async def _run(selection: Selection, *, dry_run: bool, quiet: bool) -> int:
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
                await send_counted(
                    conn, publisher, replays, by="replay", doing="replaying records", quiet=quiet
                )
            finally:
                await publisher.stop()
    verb = "would replay" if dry_run else "replayed"
    print(f"{verb} {len(replays)} record(s)")
    return 0


async def send_counted(
    conn: Db, publisher: Publisher, replays: list[Replay], *, by: str, doing: str, quiet: bool
) -> None:
    """``send`` one record at a time, each counted on the progress display as ``doing``."""
    with progress([Step("records", doing, len(replays))], quiet=quiet) as tell:
        for one in replays:
            await send(conn, publisher, [one], by=by)
            tell("records", 1)


async def _run_dead_letters(topic: str, choice: Choice, *, dry_run: bool, quiet: bool) -> int:
    settings = Settings()
    prefix = settings.kafka.topic_prefix
    original = topic.removesuffix(DLQ_SUFFIX)
    original = original if original.startswith(prefix) else prefix + original
    bootstrap = resolve_endpoints(settings).kafka_bootstrap
    letters = [
        letter
        for letter in await read_dead_letters(bootstrap, dead_letter_topic(original))
        if choice.takes(letter)
    ]
    async with database(settings, "replay") as conn:
        pending = await not_replayed(conn, letters)
        if len(pending) < len(letters):
            print(f"{len(letters) - len(pending)} dead letter(s) were replayed before; skipped")
        if dry_run:
            for letter in pending:
                print(f"would send {_letter(letter)}")
            print(f"would replay {len(pending)} dead letter(s)")
            return 0
        publisher = Publisher(bootstrap, settings.kafka)
        await publisher.start()
        sent: list[DeadLetter] = []
        try:
            steps = [Step("letters", "replaying dead letters", len(pending))]
            with progress(steps, quiet=quiet) as tell:
                for letter in pending:
                    sent += await replay(conn, publisher, [letter], by="replay")
                    tell("letters", 1)
        finally:
            await publisher.stop()
    for letter in sent:
        print(f"sent {_letter(letter)}")
    print(f"replayed {len(sent)} dead letter(s)")
    return 0


def _letter(letter: DeadLetter) -> str:
    return (
        f"{letter.record_key} back to {letter.topic} (failed at {letter.partition}:"
        f"{letter.offset}: {redact(letter.error)})"
    )


def _describe(replay: Replay, *, dry_run: bool) -> str:
    prefix = "would send" if dry_run else "sending"
    line = f"{prefix} {replay.envelope.schema_name} for {replay.record_key} ({replay.state})"
    line += f" to {replay.topic}"
    if dry_run:
        line += "\n    " + replay.envelope.model_dump_json(by_alias=True)
    return line
