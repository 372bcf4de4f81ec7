"""The poll against a Coupa that may ignore ``order_by`` (coupa-api.md §3.2 "Query parameters"
note): every approved invoice is accepted, and one approved behind a long walk's position is
accepted by the next poll, because the cursor never moves past the walk's start. What a poll
has seen it lists again as ids and versions only, and a change committed late behind the
cursor is found once its stretch has settled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
from aiohttp import web

from services.ingest.poller import INVOICE_STATUSES, Poller, read_position
from shared.db.pool import Pool, create_pool
from simulators.common.requests import REQUEST_LOG_KEY, RequestLog
from simulators.common.server import serve
from simulators.coupa.api import STORE_KEY
from simulators.coupa.app import create_app as create_coupa_sim
from simulators.coupa.options import CoupaSimOptions, SeedSize
from simulators.coupa.records import stamp
from simulators.coupa.store import CoupaStore
from tests.integration.ingest.conftest import CONNECTION, SimDirectory, sim_client

pytestmark = pytest.mark.integration

PAGE = 7
Change = Callable[[CoupaStore, list[dict[str, Any]]], None]


@dataclass
class PollRig:
    store: CoupaStore
    poller: Poller
    pool: Pool
    requests: RequestLog

    def wanted(self) -> set[int]:
        """Every invoice in Coupa that the poll asks for (approved or voided)."""
        invoices = self.store.collections["invoices"]
        return {i for i, r in invoices.items() if r["status"] in INVOICE_STATUSES}

    async def inbox(self) -> set[int]:
        rows = await self.pool.fetch("SELECT coupa_id FROM coupa_inbox WHERE kind = 'invoice'")
        return {int(row["coupa_id"]) for row in rows}


def pending(store: CoupaStore) -> list[int]:
    """Ids of the invoices waiting for approval, lowest first."""
    invoices = store.collections["invoices"]
    return sorted(i for i, r in invoices.items() if r["status"] == "pending_approval")


def _after_first_invoice_page(change: Change) -> Callable[..., Awaitable[None]]:
    """Run ``change`` on the simulator's data once its first invoice page has been answered, so
    the walk's next page sees the change (the first page's records are passed to it)."""
    answered = 0

    async def hook(request: web.Request, response: web.StreamResponse) -> None:
        nonlocal answered
        if request.path != "/api/invoices" or response.status != 200:
            return
        answered += 1
        if answered == 1 and isinstance(response, web.Response):
            assert isinstance(response.body, bytes)
            change(request.app[STORE_KEY], orjson.loads(response.body))

    return hook


@pytest.fixture
async def start_poll(db_url: str) -> AsyncIterator[Callable[..., Awaitable[PollRig]]]:
    """A Coupa simulator, a poller reading it a few invoices a page, and its database."""
    async with AsyncExitStack() as stack:
        pool = await create_pool(db_url)
        stack.push_async_callback(pool.close)

        async def start(
            *,
            honour_order_by: bool = False,
            after_first_page: Change | None = None,
            clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ) -> PollRig:
            size = SeedSize(suppliers=20, projects=5, purchase_orders=15, invoices=60)
            app = create_coupa_sim(CoupaSimOptions(size=size, honour_order_by=honour_order_by))
            if after_first_page is not None:
                app.on_response_prepare.append(_after_first_invoice_page(after_first_page))
            url = await stack.enter_async_context(serve(app))
            directory = SimDirectory(sim_client(stack, url, page_size=PAGE), polling=True)
            poller = Poller(
                pool,
                directory,
                on_accepted=lambda: None,
                first_lookback=timedelta(days=3650),
                clock=clock,
            )
            return PollRig(app[STORE_KEY], poller, pool, app[REQUEST_LOG_KEY])

        yield start


@pytest.mark.parametrize("honour_order_by", [False, True])
async def test_no_approved_invoice_is_missed_whatever_coupa_does_with_order_by(
    start_poll, honour_order_by
):
    """Pages of a few invoices, the seed's ids and updated-at in different orders, Coupa
    ignoring or honouring ``order_by`` (coupa-api.md §3.2): every approved invoice arrives."""
    rig = await start_poll(honour_order_by=honour_order_by)
    await rig.poller.poll(CONNECTION)
    assert len(rig.wanted()) > 2 * PAGE, "the walk must cross page boundaries"
    assert await rig.inbox() == rig.wanted()
    # Approved later without a Call Out, low ids and high ids alike: the next poll brings them.
    waiting = pending(rig.store)
    for invoice_id in waiting[:3] + waiting[-2:]:
        rig.store.approve_invoice(invoice_id, callout=False)
    await rig.poller.poll(CONNECTION)
    assert await rig.inbox() == rig.wanted()


@pytest.mark.parametrize("honour_order_by", [False, True])
async def test_an_invoice_approved_behind_a_long_walk_is_found_by_the_next_poll(
    start_poll, honour_order_by
):
    """After the first page of the first poll, an invoice behind the walk's position is approved,
    then one ahead of it ten minutes later (a long walk, stood for by its updated-at). The walk
    reads only the second; a cursor at the newest updated-at read would start the next poll past
    the first, overlap and all. The cursor stops at the walk's start instead."""
    changed: dict[str, list[int]] = {}

    def approve_around(store: CoupaStore, page: list[dict[str, Any]]) -> None:
        waiting = pending(store)
        changed.update(behind=[i for i in waiting if i < page[-1]["id"]][:1], ahead=waiting[-1:])
        for invoice_id in changed["behind"]:
            store.approve_invoice(invoice_id, callout=False)
        for invoice_id in changed["ahead"]:
            later = store.approve_invoice(invoice_id, callout=False)
            moved = datetime.fromisoformat(later["updated-at"]) + timedelta(minutes=10)
            later["updated-at"] = stamp(moved)

    rig = await start_poll(honour_order_by=honour_order_by, after_first_page=approve_around)
    started = datetime.now(UTC)
    await rig.poller.poll(CONNECTION)
    [behind], [ahead] = changed["behind"], changed["ahead"]
    assert ahead in await rig.inbox()
    assert behind not in await rig.inbox(), "the walk had passed it"
    async with rig.pool.acquire() as conn:
        cursor = (await read_position(conn, CONNECTION, "invoice")).cursor
    await rig.poller.poll(CONNECTION)
    assert await rig.inbox() == rig.wanted()
    ahead_at = datetime.fromisoformat(rig.store.get("invoices", ahead)["updated-at"])
    assert cursor is not None
    assert started <= cursor < ahead_at


def asked(log: RequestLog, since: int) -> list[dict[str, list[str]]]:
    """The query of each Coupa API request after the first ``since`` the simulator logged."""
    return [parse_qs(entry["query"]) for entry in list(log.entries)[since:]]


async def test_a_poll_with_nothing_new_lists_what_it_saw_and_fetches_none_of_it(start_poll):
    """Invoices, a PO and a supplier changed just now: the first poll fetches them in full, the
    second lists them again (they are inside its window) as ids and versions only."""
    rig = await start_poll()
    store = rig.store
    recent = pending(store)[:3]
    stamps = [
        store.approve_invoice(invoice_id, callout=False)["updated-at"] for invoice_id in recent
    ]
    store.revise_purchase_order(min(store.collections["purchase_orders"]), {"status": "closed"})
    store.update_supplier(min(store.collections["suppliers"]), {"website": "https://new.example"})
    assert await rig.poller.poll(CONNECTION) > 0
    assert set(recent) <= await rig.inbox()
    seen = len(rig.requests.entries)
    assert await rig.poller.poll(CONNECTION) == 0
    queries = asked(rig.requests, seen)
    assert {entry["path"] for entry in list(rig.requests.entries)[seen:]} == {
        "/api/invoices",
        "/api/suppliers",
        "/api/purchase_orders",
    }
    assert all(query["fields"] == ['["id","updated-at"]'] for query in queries), queries
    assert not [query for query in queries if "id[in]" in query], "nothing was fetched in full"
    invoice_since = [q["updated-at[gt_or_eq]"][0] for q in queries if "status[in]" in q]
    oldest = min(map(datetime.fromisoformat, stamps))
    assert invoice_since
    assert all(datetime.fromisoformat(since) <= oldest for since in invoice_since), "in window"


async def test_a_change_committed_late_behind_the_cursor_is_found_once_it_settles(start_poll):
    """An invoice approved a minute before it became visible (a late commit, or Coupa's clock a
    minute behind ours): behind the head margin, so the next poll does not list it; the settle
    walk, once its stretch is an overlap old, lists it and takes it in."""
    now = [datetime.now(UTC)]
    rig = await start_poll(clock=lambda: now[0])
    first, late = pending(rig.store)[:2]
    rig.store.approve_invoice(first, callout=False)
    await rig.poller.poll(CONNECTION)
    record = rig.store.approve_invoice(late, callout=False)
    record["updated-at"] = stamp(
        datetime.fromisoformat(record["updated-at"]) - timedelta(minutes=1)
    )
    now[0] += timedelta(seconds=15)
    await rig.poller.poll(CONNECTION)
    assert late not in await rig.inbox(), "the head walk lists only the margin behind the cursor"
    now[0] += timedelta(minutes=5)
    await rig.poller.poll(CONNECTION)
    assert late in await rig.inbox()
    assert await rig.inbox() == rig.wanted()
