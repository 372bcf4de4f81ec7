"""Admin API under ``/_admin`` (not Coupa's): drive approvals, edit suppliers, inspect state."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.coupa.api import STORE_KEY, TOKENS_KEY
from simulators.coupa.callouts import CalloutPusher
from simulators.coupa.store import NotFound

PUSHER_KEY = web.AppKey("coupa_callouts", CalloutPusher)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    data = orjson.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


async def create_invoice(request: web.Request) -> web.Response:
    """Body: optional ``supplier_id``, ``po_id``, ``status`` (default ``pending_approval``)."""
    body = await _body(request)
    record = request.app[STORE_KEY].create_invoice(
        body.get("supplier_id"), body.get("po_id"), str(body.get("status", "pending_approval"))
    )
    return _json(record, status=201)


async def create_purchase_order(request: web.Request) -> web.Response:
    """A new issued purchase order (hyphenated keys in the body override the generated ones);
    ``POST /_admin/invoices`` with its ``po_id`` bills it."""
    return _json(request.app[STORE_KEY].create_purchase_order(await _body(request)), status=201)


async def revise_purchase_order(request: web.Request) -> web.Response:
    """A revision: merge a JSON object of hyphenated keys into the order, as a buyer's change
    re-sent to the supplier would (new ``version`` and ``updated-at``, ``exported`` false)."""
    changes = await _body(request)
    po_id = int(request.match_info["id"])
    return _json(request.app[STORE_KEY].revise_purchase_order(po_id, changes))


async def approve_invoice(request: web.Request) -> web.Response:
    """Approve as a Coupa approver would; fires the invoice Call Out unless ``?callout=false``."""
    callout = request.query.get("callout", "true").lower() != "false"
    invoice_id = int(request.match_info["id"])
    return _json(request.app[STORE_KEY].approve_invoice(invoice_id, callout=callout))


async def void_invoice(request: web.Request) -> web.Response:
    """Void an approved invoice, as an AP user in Coupa would after it reached the ERP; fires
    the invoice Call Out unless ``?callout=false``. A status that cannot be voided is 400."""
    callout = request.query.get("callout", "true").lower() != "false"
    invoice_id = int(request.match_info["id"])
    return _json(request.app[STORE_KEY].void_invoice(invoice_id, callout=callout))


async def create_supplier(request: web.Request) -> web.Response:
    """A new supplier (hyphenated keys in the body override the generated ones); fires the
    supplier Call Out, as saving a new supplier in Coupa would."""
    return _json(request.app[STORE_KEY].create_supplier(await _body(request)), status=201)


async def change_supplier(request: web.Request) -> web.Response:
    """Merge a JSON object of hyphenated keys into the supplier; fires the supplier Call Out."""
    changes = await _body(request)
    return _json(request.app[STORE_KEY].update_supplier(int(request.match_info["id"]), changes))


async def expire_tokens(request: web.Request) -> web.Response:
    """Invalidate every issued token now, so the next API call answers 401."""
    return _json({"expired": request.app[TOKENS_KEY].expire_all()})


async def reseed(request: web.Request) -> web.Response:
    """Replace all data with the set for ``{"seed": n}``."""
    body = await _body(request)
    store = request.app[STORE_KEY]
    store.reseed(int(body.get("seed", 42)))
    return _json({name: len(records) for name, records in store.collections.items()})


async def callouts(request: web.Request) -> web.Response:
    return _json([asdict(d) for d in request.app[PUSHER_KEY].deliveries])


@web.middleware
async def admin_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown ids and bad JSON on admin routes become 404/400 instead of 500."""
    if not request.path.startswith("/_admin"):
        return await handler(request)
    try:
        return await handler(request)
    except NotFound as exc:
        return _json({"errors": {"base": [f"not found: {exc.args[0]}"]}}, status=404)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return _json({"errors": {"base": [str(exc)]}}, status=400)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post("/_admin/invoices", create_invoice)
    app.router.add_post("/_admin/invoices/{id}/approve", approve_invoice)
    app.router.add_post("/_admin/invoices/{id}/void", void_invoice)
    app.router.add_post("/_admin/purchase_orders", create_purchase_order)
    app.router.add_patch("/_admin/purchase_orders/{id}", revise_purchase_order)
    app.router.add_post("/_admin/suppliers", create_supplier)
    app.router.add_patch("/_admin/suppliers/{id}", change_supplier)
    app.router.add_post("/_admin/tokens/expire", expire_tokens)
    app.router.add_post("/_admin/reseed", reseed)
    app.router.add_get("/_admin/callouts", callouts)
