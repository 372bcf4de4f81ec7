"""The simulated Coupa REST API: token endpoint, index/show for three resources, invoice PUT."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.common.faults import FAULTS_KEY
from simulators.coupa.auth import READ_SCOPES, WRITE_SCOPES, TokenIssuer, read_client_credentials
from simulators.coupa.query import (
    QueryError,
    hyphenate,
    matches,
    parse_fields,
    parse_filters,
    project_fields,
    sort_records,
    trim,
    unknown_attributes,
)
from simulators.coupa.responses import OPTIONS_KEY, render_error, render_ok, resource_of
from simulators.coupa.store import RESOURCES, CoupaStore, NotFound

STORE_KEY = web.AppKey("coupa_store", CoupaStore)
TOKENS_KEY = web.AppKey("coupa_tokens", TokenIssuer)


async def token(request: web.Request) -> web.Response:
    """``POST /oauth2/token``, form-encoded client credentials (coupa-api.md §1)."""
    form, client_id, client_secret = await read_client_credentials(request)
    if form.get("grant_type") != "client_credentials":
        body: dict[str, object] = {
            "error": "unsupported_grant_type",
            "error_description": "Only client_credentials is supported",
        }
        return web.json_response(body, status=400)
    ttl = request.app[FAULTS_KEY].plan.token_ttl_seconds
    status, body = request.app[TOKENS_KEY].issue(client_id, client_secret, form.get("scope"), ttl)
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer and scope checks for ``/api``: 401 for a bad token, 403 for a missing scope."""
    resource = resource_of(request.path)
    if resource is None:
        return await handler(request)
    scopes = READ_SCOPES if request.method in ("GET", "HEAD") else WRITE_SCOPES
    denied = request.app[TOKENS_KEY].check(request.headers.get("Authorization"), scopes[resource])
    if denied is not None:
        return render_error(request, *denied)
    return await handler(request)


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError as exc:
        raise QueryError(f"{name} must be an integer") from exc
    if value < 0:
        raise QueryError(f"{name} must not be negative")
    return value


def _shape(request: web.Request, record: dict[str, Any]) -> dict[str, Any]:
    """Apply ``fields`` and ``return_object`` (coupa-api.md §3.2)."""
    fields = request.query.get("fields")
    shaped = trim(record, request.query.get("return_object"))
    if fields:
        projected: dict[str, Any] = project_fields(shaped, parse_fields(fields))
        return projected
    return shaped


async def index(request: web.Request) -> web.Response:
    """``GET /api/{resource}``: filters, ``dir`` (and ``order_by`` if the options honour it),
    0-based ``offset``, ``limit``."""
    resource = request.match_info["resource"]
    options = request.app[OPTIONS_KEY]
    records = list(request.app[STORE_KEY].collections[resource].values())
    try:
        limit = _int_param(request, "limit", options.max_limit) or options.max_limit
        if limit > options.max_limit and options.limit_over_max == "error":
            raise QueryError(f"limit must be at most {options.max_limit}")
        limit = min(limit, options.max_limit)
        offset = _int_param(request, "offset", 0)
        direction = request.query.get("dir", "asc").lower()
        if direction not in ("asc", "desc"):
            raise QueryError("dir must be asc or desc")
        filters = parse_filters(request.query.items())
        order_by = request.query.get("order_by")
        if records and options.unknown_filter == "error":
            names = unknown_attributes(filters, records[0])
            if order_by and hyphenate(order_by) not in records[0]:
                names.append(order_by)
            if names:
                raise QueryError(f"unknown attribute(s): {', '.join(names)}")
        selected = [r for r in records if matches(r, filters)]
        ordering = order_by if options.honour_order_by else None
        page = sort_records(selected, ordering, direction)[offset : offset + limit]
        return render_ok(request, resource, [_shape(request, r) for r in page])
    except QueryError as exc:
        return render_error(request, 400, str(exc))


def _record_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def show(request: web.Request) -> web.Response:
    """``GET /api/{resource}/{id}``; a missing id is 404 with the errors envelope."""
    resource = request.match_info["resource"]
    try:
        record = request.app[STORE_KEY].get(resource, _record_id(request))
        return render_ok(request, resource, _shape(request, record))
    except (NotFound, web.HTTPNotFound):
        return render_error(request, 404, f"Couldn't find {resource} with id")
    except QueryError as exc:
        return render_error(request, 400, str(exc))


async def update_invoice(request: web.Request) -> web.StreamResponse:
    """``PUT /api/invoices/{id}``: the export flag alone wins over other changes (§3.3); it is
    read from the query, and from a JSON body only if the options say so."""
    store = request.app[STORE_KEY]
    in_body = request.app[OPTIONS_KEY].export_flag_in_body
    raw = await request.read()
    try:
        invoice_id = _record_id(request)
        body = orjson.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise QueryError("body must be a JSON object")
        flag = request.query.get("exported", body.get("exported") if in_body else None)
        if flag is not None:
            # Coupa documents ``exported=true`` (§3.3), nothing else: any other word is refused
            # rather than read as false, which would silently un-export the invoice.
            if str(flag).lower() not in ("true", "false"):
                raise QueryError(f"exported must be true or false, not {flag!r:.40}")
            record = store.set_exported(invoice_id, str(flag).lower() == "true")
        else:
            record = store.update_invoice(invoice_id, body)
        if request.query.get("return_object") == "none":
            return web.Response(status=200)
        return render_ok(request, "invoices", _shape(request, record))
    except (NotFound, web.HTTPNotFound):
        return render_error(request, 404, "Couldn't find invoice with id")
    except (QueryError, orjson.JSONDecodeError) as exc:
        return render_error(request, 400, str(exc))


def add_api_routes(app: web.Application) -> None:
    """Public Coupa paths; ``/oauth2/access_tokens`` is the Swagger's token URL alias (§1)."""
    app.router.add_post("/oauth2/token", token)
    app.router.add_post("/oauth2/access_tokens", token)
    pattern = "{resource:" + "|".join(RESOURCES) + "}"
    app.router.add_get(f"/api/{pattern}", index)
    app.router.add_get(f"/api/{pattern}/{{id}}", show)
    app.router.add_put("/api/invoices/{id}", update_invoice)
