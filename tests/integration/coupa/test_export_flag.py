"""Marking invoices exported (coupa-api.md §3.3): the simulator's reading of it, and the client's
calls for it."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from shared.coupa import CoupaNotFoundError, CoupaPermissionError
from shared.coupa.exports import ExportState

JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def _unexported(sim) -> int:
    return next(
        i["id"]
        for i in sim.store.collections["invoices"].values()
        if i["status"] == "approved" and not i["exported"]
    )


@pytest.mark.parametrize("in_body", [False, True])
async def test_a_json_body_flag_marks_only_when_the_option_says_so(start_sim, http, mint, in_body):
    """§3.3 documents ``?exported=true`` for JSON and the body form in XML only: by default a
    JSON body's ``exported`` is ignored like any change riding along; the option honours it."""
    sim = await start_sim(export_flag_in_body=in_body)
    invoice_id = _unexported(sim)
    headers = {**JSON, "Authorization": f"Bearer {await mint(sim)}"}
    url = f"{sim.url}/api/invoices/{invoice_id}"
    async with http.put(url, headers=headers, data=b'{"exported": true}') as response:
        assert response.status == 200
        assert (await response.json())["exported"] is in_body
    assert sim.store.get("invoices", invoice_id)["exported"] is in_body


async def test_the_client_reads_marks_and_the_listing_filter_drops_it(sim, make_client):
    client = make_client(sim)
    invoice_id = _unexported(sim)
    before = await client.export_state(invoice_id)
    after = await client.set_exported(invoice_id)

    record = sim.store.get("invoices", invoice_id)
    assert before == ExportState(invoice_id, False, before.version)
    assert after == ExportState(invoice_id, True, record["updated-at"])
    assert after.version != before.version, "the flag moves updated-at (simulator default)"
    assert record["last-exported-at"] is not None
    put = [r for r in sim.requests if r["method"] == "PUT"]
    assert len(put) == 1 and parse_qs(put[0]["query"])["exported"] == ["true"]
    listed = {inv.id async for inv in client.iter_invoices(exported=False)}
    assert invoice_id not in listed
    assert {inv.id async for inv in client.iter_invoices(exported=True)} >= {invoice_id}


async def test_refusals_are_fatal_not_retried(start_sim, make_client):
    """An unknown invoice (404) and a client without ``core.invoice.write`` (403) are refused
    at once: asking again cannot help."""
    sim = await start_sim()
    client = make_client(sim)
    with pytest.raises(CoupaNotFoundError):
        await client.set_exported(1)
    read_only = make_client(sim, scopes=("core.invoice.read",))
    with pytest.raises(CoupaPermissionError):
        await read_only.set_exported(_unexported(sim))
    assert [r["status"] for r in sim.requests if r["method"] == "PUT"] == [404, 403]


async def test_an_export_flag_other_than_true_or_false_is_refused(sim, http, mint):
    """Only ``exported=true`` is documented (§3.3): another word is refused, never read as false."""
    invoice_id = _unexported(sim)
    sim.store.set_exported(invoice_id)
    headers = {**JSON, "Authorization": f"Bearer {await mint(sim)}"}
    url = f"{sim.url}/api/invoices/{invoice_id}?exported=yes"
    async with http.put(url, headers=headers) as response:
        assert response.status == 400
    assert sim.store.get("invoices", invoice_id)["exported"] is True
