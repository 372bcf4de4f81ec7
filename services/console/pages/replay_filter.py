"""Replay by filter: state, connection and a range of last-change dates pick the records.

The filter only picks; the dry run and the confirmation are replay's own (``replay.py``): the
dry run lists each picked record with what would be sent, and confirming sends exactly those
records, so a record that starts to match between the two is never sent unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from services.console.pages.watch import WATCH_LIMIT
from services.console.web import render
from shared.connections.store import list_connections
from shared.kafka.topics import Topics
from shared.replay import STATES, Selection, plan, select
from shared.service.app import POOL, SETTINGS

FIELDS = ("state", "connection", "date_from", "date_to")


@dataclass(frozen=True)
class Filter:
    """What the form asked for, as typed (to show it again), and what could not be read."""

    values: dict[str, str]
    problems: tuple[str, ...]

    def selection(self) -> Selection:
        """The records the filter picks: dates are whole UTC days, ``date_to`` included."""
        since, until = (self._day(name) for name in ("date_from", "date_to"))
        return Selection(
            states=(self.values["state"],) if self.values["state"] else (),
            connection=self.values["connection"] or None,
            since=since,
            until=None if until is None else until + timedelta(days=1),
        )

    def _day(self, name: str) -> datetime | None:
        text = self.values[name]
        return datetime.combine(date.fromisoformat(text), time(), UTC) if text else None


def parse_filter(query: dict[str, str]) -> Filter:
    values = {name: query.get(name, "").strip() for name in FIELDS}
    problems = []
    if values["state"] and values["state"] not in STATES:
        problems.append(f"There is no state {values['state']!r} to replay.")
    for name in ("date_from", "date_to"):
        try:
            _ = values[name] and date.fromisoformat(values[name])
        except ValueError:
            problems.append(f"The date {values[name]!r} is not a date (YYYY-MM-DD).")
    return Filter(values, tuple(problems))


async def by_filter(request: web.Request) -> web.Response:
    """The filter form; once asked, the dry run of what it picks (at most ``WATCH_LIMIT``)."""
    wanted = parse_filter(dict(request.query))
    asked = any(name in request.query for name in FIELDS)
    problems = list(wanted.problems)
    async with request.app[POOL].acquire() as conn:
        connections = [stored.name for stored in await list_connections(conn)]
        # One more than it replays, to know there are more: never every record with its payload.
        picking = asked and not problems
        rows = await select(conn, wanted.selection(), limit=WATCH_LIMIT + 1) if picking else []
    if len(rows) > WATCH_LIMIT:
        problems.append(
            f"More than {WATCH_LIMIT} records match; the console replays at most {WATCH_LIMIT} "
            "at once. Narrow the filter, or use `connector replay` for more."
        )
    if not asked or problems:
        context = {
            "wanted": wanted.values,
            "problems": problems,
            "states": STATES,
            "connections": connections,
        }
        return render(request, "replay_filter.html", context, status=400 if problems else 200)
    replays = plan(rows, Topics(request.app[SETTINGS].kafka.topic_prefix))
    return render(request, "replay.html", {"replays": replays, "missing": []})
