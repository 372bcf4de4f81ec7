"""Contract tests: the real CoupaClient against the simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from shared.coupa import CoupaAuthError, CoupaNotFoundError, CoupaPermissionError
from shared.http.errors import RetriableError


def _approved(sim, since=None):
    return {
        i["id"]
        for i in sim.store.collections["invoices"].values()
        if i["status"] == "approved"
        and (since is None or datetime.fromisoformat(i["updated-at"]) >= since)
    }


@pytest.mark.parametrize("honour_order_by", [False, True])
async def test_iter_invoices_pages_through_everything_approved_since(
    start_sim, make_client, honour_order_by
):
    """Keyset paging on the documented default order (coupa-api.md §3.2 "Page size", "Operators"),
    whether or not the simulator honours ``order_by`` (§3.2 "Query parameters" note)."""
    sim = await start_sim(honour_order_by=honour_order_by)
    since = datetime(2025, 3, 1, tzinfo=UTC)
    client = make_client(sim)
    seen = [inv async for inv in client.iter_invoices(since=since)]
    assert [inv.id for inv in seen] == sorted({inv.id for inv in seen})
    assert {inv.id for inv in seen} == _approved(sim, since)
    assert len(seen) > 50, "the walk must cross page boundaries"
    stamps = [inv.updated_at for inv in seen]
    assert stamps != sorted(stamps), "ids and updated-at of the seed are in different orders"
    pages = [parse_qs(r["query"]) for r in sim.requests if r["path"] == "/api/invoices"]
    assert all(p["limit"] == ["50"] and "order_by" not in p and "offset" not in p for p in pages)
    assert {p["updated-at[gt_or_eq]"][0] for p in pages} == {"2025-03-01T00:00:00+00:00"}
    after = [[str(seen[n * 50 - 1].id)] for n in range(1, len(pages))]
    assert [p.get("id[gt]") for p in pages] == [None, *after]
    assert all(isinstance(inv.gross_total, Decimal) for inv in seen)


@pytest.mark.parametrize("honour_order_by", [False, True])
async def test_marking_exported_mid_walk_loses_nothing(start_sim, make_client, honour_order_by):
    """The paging pitfall of coupa-api.md §3.2: the result set shrinks while we walk it."""
    sim = await start_sim(honour_order_by=honour_order_by)
    client = make_client(sim)
    expected = {
        i["id"]
        for i in sim.store.collections["invoices"].values()
        if i["status"] == "approved" and not i["exported"]
    }
    seen = []
    async for inv in client.iter_invoices(exported=False):
        seen.append(inv.id)
        await client.set_exported(inv.id)
    assert sorted(seen) == sorted(expected)
    assert len(seen) > 50


@pytest.mark.parametrize("honour_order_by", [False, True])
async def test_records_changed_while_the_walk_runs_are_read_or_left_for_the_next_poll(
    start_sim, make_client, honour_order_by
):
    """coupa-api.md §3.2 "Paging pitfall" and the ``order_by`` note: after the first page,
    invoices are approved behind and ahead of the walk's position and approved ones ahead are
    marked exported (which moves their updated-at, §3.3) or voided. Every invoice that stayed put
    is read once; changed ones ahead are read in their new version; changed ones behind are not
    read again, and carry an updated-at from after the walk's start, where a poll that reads
    from there (the poller's cursor) finds them."""
    sim = await start_sim(honour_order_by=honour_order_by)
    store = sim.store
    since = datetime(2025, 3, 1, tzinfo=UTC)
    at_start = _approved(sim, since)
    client = make_client(sim, page_size=10)
    started = datetime.now(UTC).replace(microsecond=0)
    read: dict[int, datetime | None] = {}
    changed: dict[str, list[int]] = {}
    async for inv in client.iter_invoices(since=since):
        assert inv.id not in read
        read[inv.id] = inv.updated_at
        if len(read) == 10:  # the first page is read; the next request sees these changes
            invoices = store.collections["invoices"]
            pending = sorted(i for i, r in invoices.items() if r["status"] == "pending_approval")
            unread = sorted(at_start - set(read))
            changed = {
                "behind": [i for i in pending if i < inv.id][:2],
                "ahead": [i for i in pending if i > inv.id][:2],
                "exported": unread[:2],
                "voided": unread[2:3],
            }
            assert all(changed.values()), changed
            for invoice_id in changed["behind"] + changed["ahead"]:
                store.approve_invoice(invoice_id, callout=False)
            for invoice_id in changed["exported"]:
                store.set_exported(invoice_id)
            store.get("invoices", changed["voided"][0])["status"] = "voided"
    assert at_start - set(changed["voided"]) <= set(read)
    for invoice_id in changed["ahead"] + changed["exported"]:
        assert read[invoice_id] == datetime.fromisoformat(
            store.get("invoices", invoice_id)["updated-at"]
        )
    assert not set(changed["behind"]) & set(read)
    next_poll = {inv.id async for inv in client.iter_invoices(since=started)}
    assert set(changed["behind"]) <= next_poll


async def test_records_sharing_one_updated_at_are_neither_skipped_nor_repeated(sim, make_client):
    same = "2025-06-01T12:00:00-07:00"
    for record in list(sim.store.collections["suppliers"].values())[:35]:
        record["updated-at"] = same
    client = make_client(sim, page_size=10)
    ids = [s.id async for s in client.iter_suppliers()]
    assert sorted(ids) == sorted(sim.store.collections["suppliers"])
    assert len(ids) == len(set(ids))


async def test_status_list_and_supplier_since(sim, make_client):
    client = make_client(sim)
    voided_or_disputed = [i async for i in client.iter_invoices(status=["voided", "disputed"])]
    assert voided_or_disputed
    assert {i.status for i in voided_or_disputed} <= {"voided", "disputed"}
    since = datetime(2025, 3, 1, tzinfo=UTC)
    suppliers = [s async for s in client.iter_suppliers(since=since)]
    assert suppliers
    assert all(s.updated_at is not None and s.updated_at >= since for s in suppliers)


async def test_po_by_id_and_number_and_missing(sim, make_client):
    client = make_client(sim)
    po_id = next(iter(sim.store.collections["purchase_orders"]))
    by_id = await client.get_purchase_order(po_id)
    by_number = await client.get_purchase_order_by_number(by_id.po_number or "")
    assert by_number is not None
    assert by_number.id == po_id
    assert by_id.order_lines
    assert await client.get_purchase_order_by_number("no-such-po") is None
    with pytest.raises(CoupaNotFoundError):
        await client.get_purchase_order(1)


async def test_set_exported_is_recorded_and_repeatable(sim, make_client):
    client = make_client(sim)
    invoice_id = next(i for i in _approved(sim) if not sim.store.get("invoices", i)["exported"])
    await client.set_exported(invoice_id)
    await client.set_exported(invoice_id)
    record = sim.store.get("invoices", invoice_id)
    assert record["exported"] is True
    assert record["last-exported-at"] is not None


async def test_headers_and_single_flight_token(sim, make_client):
    client = make_client(sim)
    invoice_ids = list(sim.store.collections["invoices"])[:15]
    await asyncio.gather(*(client.get_invoice(i) for i in invoice_ids))
    assert client.tokens.minted == 1
    assert sim.tokens.issued == 1
    api_calls = [r for r in sim.requests if r["path"].startswith("/api/")]
    assert all(r["headers"]["Accept"] == "application/json" for r in api_calls)
    assert all(r["headers"]["X-COUPA-API-VERSION"] == "R39" for r in api_calls)


async def test_version_header_can_be_turned_off(sim, make_client):
    client = make_client(sim, api_version=None)
    await client.get_supplier(next(iter(sim.store.collections["suppliers"])))
    api_calls = [r for r in sim.requests if r["path"].startswith("/api/")]
    assert api_calls
    assert all("X-COUPA-API-VERSION" not in r["headers"] for r in api_calls)


async def test_401_after_n_calls_remints_once_and_recovers(sim, make_client):
    client = make_client(sim)
    supplier_id = next(iter(sim.store.collections["suppliers"]))
    sim.faults(unauthorized={"after": 2, "count": 1})
    for _ in range(4):
        await client.get_supplier(supplier_id)
    assert client.tokens.minted == 2
    assert sim.statuses().count(401) == 1


async def test_401_again_with_a_fresh_token_is_a_clear_auth_error(sim, make_client):
    client = make_client(sim)
    sim.faults(unauthorized={"after": 0, "count": 2})
    with pytest.raises(CoupaAuthError, match="fresh token"):
        await client.get_supplier(next(iter(sim.store.collections["suppliers"])))
    assert sim.statuses().count(401) == 2, "a 401 is not retried beyond one re-mint"


async def test_tokens_expired_at_run_time_are_replaced(sim, make_client, http):
    client = make_client(sim)
    supplier_id = next(iter(sim.store.collections["suppliers"]))
    await client.get_supplier(supplier_id)
    async with http.post(f"{sim.url}/_admin/tokens/expire") as response:
        assert (await response.json())["expired"] == 1
    await client.get_supplier(supplier_id)
    assert client.tokens.minted == 2


async def test_short_lived_tokens_are_renewed_before_expiry(start_sim, make_client):
    sim = await start_sim(faults={"token_ttl_seconds": 1})
    client = make_client(sim)
    supplier_id = next(iter(sim.store.collections["suppliers"]))
    await client.get_supplier(supplier_id)
    await asyncio.sleep(1.0)
    await client.get_supplier(supplier_id)
    assert client.tokens.minted == 2
    assert 401 not in sim.statuses()


async def test_wrong_secret_in_strict_mode(start_sim, make_client):
    sim = await start_sim(client_id="connector", client_secret="right")
    client = make_client(sim, client_secret="wrong")
    with pytest.raises(CoupaAuthError, match="invalid_client"):
        await client.get_supplier(1)
    good = make_client(sim, client_secret="right")
    assert (await good.get_supplier(next(iter(sim.store.collections["suppliers"])))).id


async def test_missing_scope_is_a_permission_error(start_sim, make_client):
    sim = await start_sim(
        client_id="connector",
        client_secret="right",
        client_scopes=["core.invoice.read", "core.supplier.read"],
    )
    client = make_client(
        sim, client_secret="right", scopes=("core.invoice.read", "core.supplier.read")
    )
    with pytest.raises(CoupaPermissionError):
        await client.set_exported(next(iter(sim.store.collections["invoices"])))


@pytest.mark.parametrize("retry_after", [None, 0.02])
async def test_429_burst_is_retried(sim, make_client, retry_after):
    client = make_client(sim)
    sim.faults(throttle={"after": 1, "count": 3}, throttle_retry_after=retry_after)
    invoice_id = next(iter(sim.store.collections["invoices"]))
    for _ in range(2):
        await client.get_invoice(invoice_id)
    assert sim.statuses().count(429) == 3


async def test_server_errors_are_retried_then_surface(sim, make_client):
    client = make_client(sim, attempts=3)
    invoice_id = next(iter(sim.store.collections["invoices"]))
    sim.faults(server_errors={"after": 0, "count": 2})
    assert (await client.get_invoice(invoice_id)).id == invoice_id
    sim.faults(server_error_rate=1.0, server_error_status=502)
    with pytest.raises(RetriableError) as info:
        await client.get_invoice(invoice_id)
    assert info.value.status == 502


async def test_added_latency_is_tolerated_and_timeouts_are_retriable(sim, make_client):
    invoice_id = next(iter(sim.store.collections["invoices"]))
    sim.faults(latency_ms=30)
    assert (await make_client(sim).get_invoice(invoice_id)).id == invoice_id
    impatient = make_client(sim, timeout_seconds=0.01, attempts=2)
    with pytest.raises(RetriableError):
        await impatient.get_invoice(invoice_id)


@pytest.mark.parametrize("mode", ["disconnect", "gateway_timeout"])
async def test_lost_answer_after_commit_on_set_exported(sim, make_client, mode):
    client = make_client(sim)
    invoice_id = next(i for i in _approved(sim) if not sim.store.get("invoices", i)["exported"])
    await client.get_invoice(invoice_id)  # token and connection ready
    sim.faults(lost_answer={"after": 0, "count": 2}, lost_answer_mode=mode)
    await client.set_exported(invoice_id)
    assert sim.store.get("invoices", invoice_id)["exported"] is True
    assert sim.injected()["lost_answer"] >= 1


async def test_client_side_limit_paces_a_burst(sim, make_client):
    """Coupa allows 25/s with bursts of 20 (coupa-api.md §6); a client set a little under it
    never meets a 429, and its own bucket visibly spaces the calls."""
    client = make_client(sim, rate=20, burst=10)
    invoice_ids = list(sim.store.collections["invoices"])[:20]
    started = time.monotonic()
    await asyncio.gather(*(client.get_invoice(i) for i in invoice_ids))
    # 21 calls (token + 20) with 10 free: at least 11 waited 1/20 s each.
    assert time.monotonic() - started >= 11 / 20 - 0.05
    assert 429 not in sim.statuses()


async def test_without_client_limit_server_429s_are_absorbed(start_sim, make_client):
    sim = await start_sim(rate=100, burst=3)
    client = make_client(sim, rate=10_000, burst=1_000, attempts=12)
    invoice_ids = list(sim.store.collections["invoices"])[:12]
    found = await asyncio.gather(*(client.get_invoice(i) for i in invoice_ids))
    assert [f.id for f in found] == invoice_ids
    assert 429 in sim.statuses()


async def test_purchase_orders_by_number_in_bulk_a_page_a_call(sim, make_client):
    """``po-number[in]`` (coupa-api.md §3.2 "Operators", §4): ceil(n / page) calls for n
    numbers; a number Coupa does not know is absent, one holding a comma is asked for alone."""
    odd = sim.store.create_purchase_order({"po-number": "PO,1"})
    numbers = [po["po-number"] for po in sim.store.collections["purchase_orders"].values()][:20]
    client = make_client(sim, page_size=7)
    found = await client.purchase_orders_by_number([*numbers, "no-such-po", "PO,1", numbers[0]])
    assert sorted(po["po-number"] for po in found) == sorted([*numbers, "PO,1"])
    assert next(po for po in found if po["po-number"] == "PO,1") == odd
    pages = [parse_qs(r["query"]) for r in sim.requests if r["path"] == "/api/purchase_orders"]
    assert len(pages) == 4  # ceil(21 / 7) lists, and the number with a comma alone
    assert [len(p["po-number[in]"][0].split(",")) for p in pages[:3]] == [7, 7, 7]
    assert pages[3]["po-number"] == ["PO,1"]


async def test_a_listing_carries_identities_and_fetch_in_the_whole_records(sim, make_client):
    """``fields`` (§3.2 "Payload trimming") lists the id and version of each change in a window
    (``updated-at[gt_or_eq]`` to ``[lt]``); ``id[in]`` then brings the records in full."""
    since, until = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    client = make_client(sim, page_size=7)
    pages = [page async for page in client.list_changed("invoices", since, until=until)]
    listed = [item for page in pages for item in page]
    invoices = sim.store.collections["invoices"]
    expected = {
        i for i, r in invoices.items() if since <= datetime.fromisoformat(r["updated-at"]) < until
    }
    assert len(pages) > 2
    assert {item.id for item in listed} == expected
    assert all(item.version == invoices[item.id]["updated-at"] for item in listed)
    assert all(item.updated_at == datetime.fromisoformat(item.version) for item in listed)
    wanted = [str(item.id) for item in listed[:9]]
    fetched = await client.fetch_in("invoices", "id", wanted, {"status": "approved"})
    assert fetched == [invoices[int(i)] for i in wanted if invoices[int(i)]["status"] == "approved"]
