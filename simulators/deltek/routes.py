"""The simulated Vantagepoint REST surface: firms, reference data, AP entry, posting, ledger.

Every read answers a bare JSON array, even for one record (deltek-api.md §5); creating POSTs
answer ``options.post_status`` with a ``Location`` header (§6).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulators.deltek import entry
from simulators.deltek.auth import bearer_user
from simulators.deltek.payterms import check_pay_terms
from simulators.deltek.query import apply_filter, page, parse_filter, project_fields
from simulators.deltek.state import STATE_KEY, SimState, answer, dumps, read_json
from simulators.deltek.store import Batch, Record, SimError


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def _user(request: web.Request) -> str:
    return bearer_user(_state(request), request) or "API"


def _reply(request: web.Request, rows: list[Record], status: int = 200) -> web.Response:
    """Trim by ``fieldFilter`` and zero amounts for a restricted role, then answer the array."""
    state = _state(request)
    trimmed = project_fields(rows, request.query)
    return answer(trimmed, status, restricted=state.options.restricted_role)


def _listing(
    request: web.Request, rows: list[Record], columns: frozenset[str] | None = None
) -> web.Response:
    state = _state(request)
    kept = apply_filter(rows, parse_filter(request.query, state.options.in_operator), columns)
    return _reply(
        request,
        page(kept, request.query, state.options.default_page_size, state.options.ascending_order),
    )


def _created(request: web.Request, rows: list[Record], key: str) -> web.Response:
    response = _reply(request, rows, _state(request).options.post_status)
    response.headers["Location"] = f"{request.url.with_query(None)}/{key}"
    return response


async def _object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise SimError(400, "The request is invalid.")
    return body


# -- firms ---------------------------------------------------------------------------------


async def list_firms(request: web.Request) -> web.Response:
    return _listing(request, list(_state(request).store.firms.values()))


async def get_firm(request: web.Request) -> web.Response:
    return _reply(request, [_state(request).store.firm(request.match_info["client_id"])])


def _accounting_with_vendor(state: SimState) -> bool:
    return state.options.vendor_accounting == "with_firm"


async def create_firm(request: web.Request) -> web.Response:
    state = _state(request)
    firm = state.store.create_firm(
        await _object(request),
        allow_override=state.options.autonumber == "allow_override",
        user=_user(request),
        accounting_with_vendor=_accounting_with_vendor(state),
    )
    return _created(request, [firm], firm["ClientID"])


def _check_terms(state: SimState, row: Record, table: str) -> None:
    """Vantagepoint's closed set of pay terms, unless the option accepts any (``payterms.py``)."""
    if state.options.pay_terms == "closed_set" and isinstance(row, dict):
        check_pay_terms(row, table, pay_date_needed=table == "apMaster")


async def update_firm(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _object(request)
    for change in body.get("VEAccounting") or []:
        _check_terms(state, change, "VEAccounting")
    firm = state.store.update_firm(
        request.match_info["client_id"],
        body,
        _user(request),
        accounting_with_vendor=_accounting_with_vendor(state),
    )
    return _reply(request, [firm])


async def list_addresses(request: web.Request) -> web.Response:
    store = _state(request).store
    client_id = request.match_info["client_id"]
    store.firm(client_id)
    return _listing(request, store.addresses[client_id])


async def add_address(request: web.Request) -> web.Response:
    address = _state(request).store.add_address(
        request.match_info["client_id"], await _object(request)
    )
    return _created(request, [address], address["CLAddressID"])


async def get_vendor_accounting(request: web.Request) -> web.Response:
    state = _state(request)
    client_id = request.match_info["client_id"]
    state.store.firm(client_id)
    row = state.store.ve_accounting.get(client_id)
    if row is None and state.options.vendor_accounting_404_until_insert:
        raise SimError(404, f"No vendor accounting information for firm {client_id}.")
    return _reply(request, [row] if row else [])


async def insert_vendor_accounting(request: web.Request) -> web.Response:
    state, body = _state(request), await _object(request)
    _check_terms(state, body, "VEAccounting")
    row = state.store.insert_vendor_accounting(body)
    return _created(request, [row], str(row["Vendor"]))


# -- reference data ------------------------------------------------------------------------


async def list_accounts(request: web.Request) -> web.Response:
    return _listing(request, list(_state(request).store.accounts.values()))


def _level(row: Record) -> str:
    return "wbs3" if row["WBS3"].strip() else "wbs2" if row["WBS2"].strip() else "wbs1"


async def list_projects(request: web.Request) -> web.Response:
    """Top-level projects by default; ``wbstype=wbs2|wbs3`` lists phases or tasks (§4, 🟡)."""
    level = request.query.get("wbstype", "wbs1").lower()
    rows = [p for p in _state(request).store.projects if _level(p) == level]
    return _listing(request, rows)


async def get_project(request: web.Request) -> web.Response:
    wbs1 = request.match_info["wbs1"]
    project = _state(request).store.project(wbs1)
    if project is None:
        raise SimError(404, f"Project {wbs1} not found.")
    return _reply(request, [project])


async def list_periods(request: web.Request) -> web.Response:
    return _listing(request, _state(request).store.periods)


async def list_bank_codes(request: web.Request) -> web.Response:
    """``GET /BankCode/CFGBANKS``: the tenant's bank codes (§4, 🟡)."""
    return _listing(request, list(_state(request).store.bank_codes.values()))


# -- AP entry, posting, ledger -------------------------------------------------------------


def _batch_view(state: SimState, batch: Batch) -> Record:
    """Header only unless the option nests vouchers and lines (§3.D: do not rely on them)."""
    return entry.batch_view(batch, nested=state.options.batch_read == "nested")


def _batch(request: web.Request) -> Batch:
    batch_id = request.match_info["batch"]
    batch = _state(request).store.batches.get(batch_id)
    if batch is None:
        raise SimError(404, f"Batch {batch_id} not found.")
    return batch


async def create_ap_batch(request: web.Request) -> web.Response:
    state = _state(request)
    body = await _object(request)
    for master in body.get("apMaster") or []:
        _check_terms(state, master, "apMaster")
    batch = entry.create_batch(
        state.store,
        body,
        duplicate=state.options.duplicate_batch,
        vouchers=state.options.voucher_numbers,
        user=_user(request),
    )
    return _created(request, [_batch_view(state, batch)], batch.control["Batch"])


async def get_ap_batch(request: web.Request) -> web.Response:
    return _reply(request, [_batch_view(_state(request), _batch(request))])


async def get_ap_masters(request: web.Request) -> web.Response:
    """``GET /DataEntry/apMaster/{batch}``: the batch's vouchers (§3.A, 🟡)."""
    return _reply(request, _batch(request).masters)


async def get_ap_details(request: web.Request) -> web.Response:
    """``GET /DataEntry/apDetail/{batch}``: the lines of every voucher of the batch (§3.A, 🟡)."""
    return _reply(request, _batch(request).details)


async def post_trans_file(request: web.Request) -> web.Response:
    """The answer is a JSON string whose content is the JSON result object (§3.A, ✅)."""
    state = _state(request)
    body = await _object(request)
    parms = body.get("parms")
    listed = parms if isinstance(parms, list) else [parms] if isinstance(parms, dict) else None
    if not listed or not all(isinstance(p, dict) for p in listed):
        raise SimError(400, "Please provide parms.")
    result = entry.post_batches(state.store, listed)
    return answer(dumps(result).decode())


async def ap_ledger(request: web.Request) -> web.Response:
    """Only ``filterHash`` filters; ``limit`` may be refused with a 500 (§3.C, 🟡). A filter on
    a column this tenant's ledger lacks is refused, never answered empty (§3.D)."""
    state = _state(request)
    if state.options.ledger_reject_limit and "limit" in request.query:
        raise SimError(500, "An error has occurred.")
    key = state.options.ledger_invoice_key
    rows = entry.ledger_view(state.store.ledger, key)
    return _listing(request, rows, entry.ledger_columns(key))


def add_api_routes(app: web.Application, prefix: str) -> None:
    """Mount the REST API under ``{prefix}/api`` and the vision endpoints beside it."""
    api, vision = f"{prefix}/api", f"{prefix}/vision"
    router = app.router
    router.add_get(f"{api}/firm", list_firms)
    router.add_post(f"{api}/firm", create_firm)
    router.add_get(f"{api}/firm/{{client_id}}", get_firm)
    router.add_put(f"{api}/firm/{{client_id}}", update_firm)
    router.add_get(f"{api}/firm/{{client_id}}/address", list_addresses)
    router.add_post(f"{api}/firm/{{client_id}}/address", add_address)
    router.add_get(f"{api}/firm/{{client_id}}/vendorAccountingInfo", get_vendor_accounting)
    router.add_post(f"{vision}/firm/VendorAccountingInfo", insert_vendor_accounting)
    router.add_get(f"{api}/Accounts/", list_accounts)
    router.add_get(f"{api}/Accounts", list_accounts)
    router.add_get(f"{api}/project", list_projects)
    router.add_get(f"{api}/project/{{wbs1}}", get_project)
    router.add_get(f"{api}/Settings/Period", list_periods)
    router.add_get(f"{api}/BankCode/CFGBANKS", list_bank_codes)
    router.add_post(f"{api}/DataEntry/apControl", create_ap_batch)
    router.add_get(f"{api}/DataEntry/apControl/{{batch}}", get_ap_batch)
    router.add_get(f"{api}/DataEntry/apMaster/{{batch}}", get_ap_masters)
    router.add_get(f"{api}/DataEntry/apDetail/{{batch}}", get_ap_details)
    router.add_put(f"{api}/DataEntry/PostTransFile", post_trans_file)
    router.add_get(f"{api}/PSALedger/AP", ap_ledger)
