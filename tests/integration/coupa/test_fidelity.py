"""Fidelity tests: the simulator against documented facts, each citing its coupa-api.md section."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

JSON = {"Accept": "application/json"}


async def _get(http, sim, token, path, params=None, headers=JSON):
    async with http.get(
        f"{sim.url}{path}", params=params, headers={**headers, "Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, response.content_type, await response.read()


async def _get_json(http, sim, token, path, params=None):
    async with http.get(
        f"{sim.url}{path}", params=params, headers={**JSON, "Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, await response.json()


async def test_token_response_shape(sim, http):
    """§1 Response / §9.1: access_token (a JWT), token_type bearer, expires_in 86399."""
    form = {"client_id": "any", "client_secret": "thing", "grant_type": "client_credentials"}
    async with http.post(f"{sim.url}/oauth2/token", data=form) as response:
        body = await response.json()
    assert response.status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399
    assert body["access_token"].count(".") == 2


async def test_token_errors_follow_rfc6749(start_sim, http):
    """§1 Token error shape [I]: 401 invalid_client, 400 invalid_scope / unsupported_grant_type."""
    sim = await start_sim(client_id="cid", client_secret="sec")
    cases = [
        ({"client_id": "cid", "client_secret": "bad", "grant_type": "client_credentials"}, 401,
         "invalid_client"),
        ({"client_id": "cid", "client_secret": "sec", "grant_type": "client_credentials",
          "scope": "core.nonsense.read"}, 400, "invalid_scope"),
        ({"client_id": "cid", "client_secret": "sec", "grant_type": "password"}, 400,
         "unsupported_grant_type"),
    ]  # fmt: skip
    for form, status, error in cases:
        async with http.post(f"{sim.url}/oauth2/token", data=form) as response:
            assert response.status == status
            assert (await response.json())["error"] == error


async def test_bad_token_401_and_missing_scope_403_with_errors_envelope(sim, http, mint):
    """§6: bad/expired token → 401, token lacking the scope → 403; errors as {"errors": {...}}."""
    status, body = await _get_json(http, sim, "not-a-token", "/api/invoices")
    assert status == 401
    assert set(body) == {"errors"}
    token = await mint(sim, scope="core.supplier.read")
    status, body = await _get_json(http, sim, token, "/api/invoices")
    assert status == 403
    assert isinstance(body["errors"], dict)


async def test_xml_unless_accept_json(sim, http, mint):
    """§2 Accept: Coupa defaults to XML; JSON only with Accept: application/json."""
    token = await mint(sim)
    status, content_type, body = await _get(http, sim, token, "/api/invoices", headers={})
    assert status == 200
    assert content_type == "application/xml"
    assert b"<invoice-headers" in body
    assert b'<id type="integer">' in body
    status, content_type, body = await _get(http, sim, token, "/api/invoices")
    assert content_type == "application/json"
    assert body.startswith(b"[")


async def test_empty_result_json_array_but_xml_404(sim, http, mint):
    """§3.2 End of data (XJ): JSON [] with 200; XML 404 <errors><error>No results…"""
    token = await mint(sim)
    status, body = await _get_json(http, sim, token, "/api/invoices", {"status": "no_such"})
    assert (status, body) == (200, [])
    status, _, xml = await _get(http, sim, token, "/api/invoices", {"status": "x"}, headers={})
    assert status == 404
    assert b"<errors><error>No results match your search criteria.</error></errors>" in xml


async def test_page_size_cap_offset_and_default_order(sim, http, mint):
    """§3.2 Page size: at most 50, ascending id by default; Paging: offset is 0-based."""
    token = await mint(sim)
    _, first = await _get_json(http, sim, token, "/api/invoices")
    _, capped = await _get_json(http, sim, token, "/api/invoices", {"limit": "500"})
    _, two = await _get_json(http, sim, token, "/api/invoices", {"limit": "2", "offset": "49"})
    _, second = await _get_json(http, sim, token, "/api/invoices", {"offset": "50"})
    everything = sorted(sim.store.collections["invoices"])
    assert [i["id"] for i in first] == everything[:50]
    assert len(capped) == 50
    assert [i["id"] for i in two] == everything[49:51]
    assert [i["id"] for i in second] == everything[50:100]


async def test_limit_over_max_can_be_an_error(start_sim, http, mint):
    """§3.2 Page size [I] behaviour for limit>50 is an option: "error" answers 400."""
    sim = await start_sim(limit_over_max="error")
    status, body = await _get_json(http, sim, await mint(sim), "/api/invoices", {"limit": "51"})
    assert status == 400
    assert "errors" in body


async def test_order_by_is_ignored_by_default(sim, http, mint):
    """§3.2 Query parameters: that Coupa honours ``order_by=updated_at`` is not documented, so by
    default the answer keeps the documented default order (§3.2 Page size: ascending id), in
    which the seed's updated-at goes backwards."""
    token = await mint(sim)
    params = {"order_by": "updated_at", "dir": "asc", "limit": "50"}
    _, page = await _get_json(http, sim, token, "/api/invoices", params)
    assert [i["id"] for i in page] == sorted(sim.store.collections["invoices"])[:50]
    stamps = [datetime.fromisoformat(i["updated-at"]) for i in page]
    assert stamps != sorted(stamps)


async def test_id_gt_pages_the_default_order(sim, http, mint):
    """§3.2 Operators (``gt`` on any element, here ``id``) with the default ascending-id order
    (§3.2 Page size): the next page after the last id read, as the client walks."""
    token = await mint(sim)
    everything = sorted(sim.store.collections["invoices"])
    params = {"id[gt]": str(everything[49]), "limit": "50"}
    _, page = await _get_json(http, sim, token, "/api/invoices", params)
    assert [i["id"] for i in page] == everything[50:100]


async def test_order_by_and_dir_when_honoured(start_sim, http, mint):
    """§3.2 Query parameters: order_by and dir (asc|desc), with ``honour_order_by``."""
    sim = await start_sim(honour_order_by=True)
    token = await mint(sim)
    params = {"order_by": "updated_at", "dir": "desc", "limit": "50"}
    _, page = await _get_json(http, sim, token, "/api/suppliers", params)
    stamps = [s["updated-at"] for s in page]
    newest = max(s["updated-at"] for s in sim.store.collections["suppliers"].values())
    assert stamps[0] == newest
    assert len(stamps) == 40


@pytest.mark.parametrize(
    ("hyphen", "underscore"),
    [
        ("updated-at[gt]", "updated_at[gt]"),
        ("updated-at[gt_or_eq]", "updated_at[gt_or_eq]"),
        ("updated-at[lt]", "updated_at[lt]"),
    ],
)
async def test_hyphen_and_underscore_spellings_agree(sim, http, mint, hyphen, underscore):
    """§3.2 Changed since: `updated-at[gt]` and the underscore form both work."""
    token = await mint(sim)
    moment = "2025-03-01T00:00:00+00:00"
    _, a = await _get_json(http, sim, token, "/api/invoices", {hyphen: moment, "limit": "50"})
    _, b = await _get_json(http, sim, token, "/api/invoices", {underscore: moment, "limit": "50"})
    assert a
    assert a == b
    ids = [i["id"] for i in a]
    assert len(ids) == len(set(ids))


async def test_operators_status_in_exported_and_associations(sim, http, mint):
    """§3.2 Operators (in, gt_or_eq, equals on booleans) and filters through associations."""
    token = await mint(sim)
    params = {"status[in]": "voided,disputed", "exported": "false"}
    _, rows = await _get_json(http, sim, token, "/api/invoices", params)
    assert rows
    assert all(r["status"] in ("voided", "disputed") and r["exported"] is False for r in rows)
    _, cad = await _get_json(http, sim, token, "/api/invoices", {"currency[code]": "CAD"})
    assert cad
    assert {r["currency"]["code"] for r in cad} == {"CAD"}
    _, since = await _get_json(
        http, sim, token, "/api/suppliers", {"updated-at[gt_or_eq]": "2025-04-01"}
    )
    assert all(s["updated-at"] >= "2025-04-01" for s in since)


async def test_unknown_filter_is_rejected_by_default(sim, http, mint):
    """§3.2 [I]: unknown attributes answer 400 by default so client typos surface."""
    status, body = await _get_json(http, sim, await mint(sim), "/api/invoices", {"statu": "x"})
    assert status == 400
    assert "errors" in body


async def test_json_types_keys_and_no_header_total(sim, http, mint):
    """§3.6 typing rules and §3.4/§3.5 keys: hyphenated keys, ids as numbers, amounts as strings,
    datetimes with offsets, all 20 account segments, no header `total`."""
    token = await mint(sim)
    _, invoices = await _get_json(http, sim, token, "/api/invoices", {"limit": "50"})
    for invoice in invoices:
        assert isinstance(invoice["id"], int)
        assert "total" not in invoice
        assert all("_" not in key for key in invoice)
        for key in ("gross-total", "total-with-taxes", "tax-amount", "shipping-amount"):
            assert isinstance(invoice[key], str)
            assert re.fullmatch(r"-?\d+\.\d{2}", invoice[key])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", invoice["updated-at"])
        for line in invoice["invoice-lines"]:
            assert isinstance(line["line-num"], int)
            assert isinstance(line["total"], str)
            account = line["account"] or line["account-allocations"][0]["account"]
            assert [f"segment-{n}" in account for n in range(1, 21)] == [True] * 20


async def test_po_keys(sim, http, mint):
    """§4: po-number and order-line line-num are strings; total and total-with-estimated-tax."""
    token = await mint(sim)
    _, pos = await _get_json(http, sim, token, "/api/purchase_orders")
    po = pos[0]
    assert isinstance(po["po-number"], str)
    assert isinstance(po["order-lines"][0]["line-num"], str)
    assert isinstance(po["total"], str)
    assert "total-with-estimated-tax" in po
    _, by_number = await _get_json(
        http, sim, token, "/api/purchase_orders", {"po-number": po["po-number"]}
    )
    assert [p["id"] for p in by_number] == [po["id"]]


async def test_missing_id_is_404_with_errors_envelope(sim, http, mint):
    """§6: GET /api/invoices/:id for a missing id → 404, body the `errors` envelope [I]."""
    status, body = await _get_json(http, sim, await mint(sim), "/api/invoices/1")
    assert status == 404
    assert list(body) == ["errors"]
    assert isinstance(next(iter(body["errors"].values())), list)


async def test_put_exported_flag_alone_with_fields(sim, http, mint):
    """§3.3: PUT ?exported=true&fields=["id","exported"] → {"id", "exported": true}; other
    changes in that request are ignored; last-exported-at is set."""
    token = await mint(sim)
    invoice = next(i for i in sim.store.collections["invoices"].values() if not i["exported"])
    params = {"exported": "true", "fields": '["id","exported"]'}
    headers = {**JSON, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = b'{"invoice-number": "CHANGED"}'
    url = f"{sim.url}/api/invoices/{invoice['id']}"
    async with http.put(url, params=params, headers=headers, data=body) as response:
        assert response.status == 200
        assert await response.json() == {"id": invoice["id"], "exported": True}
    assert invoice["invoice-number"] != "CHANGED"
    assert invoice["last-exported-at"] is not None


async def test_return_object_limited_and_shallow(sim, http, mint):
    """§3.2 Payload trimming: limited → ids only; shallow → associations as ids/natural keys."""
    token = await mint(sim)
    _, limited = await _get_json(http, sim, token, "/api/suppliers", {"return_object": "limited"})
    assert all(set(s) == {"id"} for s in limited)
    _, shallow = await _get_json(http, sim, token, "/api/invoices", {"return_object": "shallow"})
    assert set(shallow[0]["supplier"]) <= {"id", "name", "number", "code", "login"}


async def test_rate_limit_25_per_second_burst_20(sim, http, mint):
    """§6: 25 requests/s with a burst of 20, beyond which Coupa answers 429."""
    token = await mint(sim)  # one token already spent
    statuses = [(await _get_json(http, sim, token, "/api/suppliers/1"))[0] for _ in range(21)]
    assert statuses.count(429) >= 1
    assert 429 not in statuses[:19]


async def test_seed_covers_the_edge_cases_and_is_deterministic(start_sim):
    """§10.7 fixtures: credit notes with negative totals, charges, line and header tax, split
    allocations, non-PO lines, amount lines, a second currency, several remit-tos."""
    sim = await start_sim(size={"suppliers": 300, "purchase_orders": 150, "invoices": 400})
    invoices = list(sim.store.collections["invoices"].values())
    lines = [line for i in invoices for line in i["invoice-lines"]]
    credit = [i for i in invoices if i["document-type"] == "Credit Note"]
    assert credit
    assert all(i["gross-total"].startswith("-") for i in credit)
    assert any(i["invoice-charges"] for i in invoices)
    assert any(i["line-level-taxation"] for i in invoices)
    assert any(i["tax-rate"] for i in invoices)
    assert any(line["account-allocations"] for line in lines)
    assert any(line["order-line-id"] is None for line in lines)
    assert any(line["quantity"] is None for line in lines)
    assert {i["currency"]["code"] for i in invoices} == {"USD", "CAD"}
    assert any(
        len(s["remit-to-addresses"]) > 1 for s in sim.store.collections["suppliers"].values()
    )
    assert max(len(i["invoice-lines"]) for i in invoices) > 10
    again = await start_sim(size={"suppliers": 300, "purchase_orders": 150, "invoices": 400})
    assert again.store.collections == sim.store.collections


async def test_in_lists_find_records_by_id_and_po_number(sim, http, mint):
    """§3.2 Operators: ``in`` takes a comma list, on any element (here ``id`` and §4's
    ``po-number``); the answer keeps the default ascending id, and a value nothing has is
    simply not in it."""
    token = await mint(sim)
    orders = sorted(sim.store.collections["purchase_orders"])[:3]
    numbers = [sim.store.get("purchase_orders", po_id)["po-number"] for po_id in orders]
    asked = {"po-number[in]": ",".join([numbers[2], "no-such-po", numbers[0]])}
    _, by_number = await _get_json(http, sim, token, "/api/purchase_orders", asked)
    assert [po["id"] for po in by_number] == [orders[0], orders[2]]
    asked = {"id[in]": ",".join(str(po_id) for po_id in [orders[1], 1, orders[2]])}
    _, by_id = await _get_json(http, sim, token, "/api/purchase_orders", asked)
    assert [po["id"] for po in by_id] == orders[1:]


async def test_fields_and_a_bounded_updated_at_window(sim, http, mint):
    """§3.2 ``fields=``: a JSON array of the fields wanted, keys hyphenated in the answer; and
    ``gt_or_eq`` with ``lt`` on one element bound a window of changes."""
    token = await mint(sim)
    window = {"updated-at[gt_or_eq]": "2025-03-01", "updated-at[lt]": "2025-04-01"}
    params = {**window, "fields": '["id","updated_at"]', "limit": "50"}
    _, listed = await _get_json(http, sim, token, "/api/invoices", params)
    assert listed
    assert all(set(item) == {"id", "updated-at"} for item in listed)
    moments = [datetime.fromisoformat(item["updated-at"]) for item in listed]
    assert all(
        "2025-03-01" <= moment.astimezone(UTC).isoformat() < "2025-04-01" for moment in moments
    )


async def test_a_po_revision_gets_a_new_version_and_is_no_longer_exported(sim, http):
    """§4: a PO revision re-sent to the supplier (new ``version``) resets ``exported`` to false;
    the admin revision also moves ``updated-at``, the change an integration polls for."""
    po = sim.store.get("purchase_orders", min(sim.store.collections["purchase_orders"]))
    po["exported"], po["updated-at"] = True, "2025-01-01T00:00:00-07:00"
    version = po["version"]
    url = f"{sim.url}/_admin/purchase_orders/{po['id']}"
    async with http.patch(url, json={"ship-to-attention": "Site office"}) as answer:
        revised = await answer.json()
    assert answer.status == 200
    assert revised["ship-to-attention"] == "Site office"
    assert (revised["version"], revised["exported"]) == (version + 1, False)
    assert revised["updated-at"] > "2025-01-01T00:00:00-07:00"
