"""Records: the search form with its results, and one record's page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from aiohttp import web

from services.console.read.records import SEARCH_LIMIT, Search, search, story
from services.console.web import refuse, render
from shared.replay import STATES
from shared.service.app import POOL

ALL_STATES = (*STATES, "superseded", "previewed")
KINDS = ("invoice", "supplier")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/records", find)
    router.add_get("/records/{key}", show)


def parse_search(query: dict[str, str]) -> tuple[Search, list[str]]:
    """The search a query string asks for, and what in it could not be read."""
    problems: list[str] = []
    amount: Decimal | None = None
    if text := query.get("amount", "").strip():
        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:
            problems.append(f"The amount {text!r} is not a number.")
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        dates[name] = None
        if text := query.get(name, "").strip():
            try:
                dates[name] = date.fromisoformat(text)
            except ValueError:
                problems.append(f"The date {text!r} is not a date (YYYY-MM-DD).")
    state = query.get("state", "")
    if state and state not in ALL_STATES:
        problems.append(f"There is no state {state!r}.")
        state = ""
    kind = query.get("kind") or "invoice"
    if kind not in KINDS:
        problems.append(f"There is no kind of record {kind!r}.")
        kind = "invoice"
    wanted = Search(
        invoice_number=query.get("invoice_number", ""),
        supplier=query.get("supplier", ""),
        po=query.get("po", ""),
        amount=amount,
        date_from=dates["date_from"],
        date_to=dates["date_to"],
        state=state,
        connection=query.get("connection", ""),
        kind=kind,
    )
    return wanted, problems


async def find(request: web.Request) -> web.Response:
    wanted, problems = parse_search(dict(request.query))
    async with request.app[POOL].acquire() as conn:
        found = [] if problems else await search(conn, wanted)
    return render(
        request,
        "records.html",
        {
            "wanted": wanted,
            "problems": problems,
            "found": found,
            "limit": SEARCH_LIMIT,
            "states": ALL_STATES,
            "asked": bool(request.query),
        },
    )


async def show(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    async with request.app[POOL].acquire() as conn:
        found = await story(conn, key)
    if found is None:
        return refuse(request, f"There is no record {key}.", status=404)
    return render(request, "record.html", {"story": found})
