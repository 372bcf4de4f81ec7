"""The simulator's admin API under ``/_admin``: read state, reset, change options, expire tokens.

``GET|POST|DELETE /_admin/faults`` (the shared fault plan) is added by ``simulators.common``.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from simulators.deltek.auth import expire_all
from simulators.deltek.entry import batch_view, ledger_view
from simulators.deltek.options import RuntimePatch
from simulators.deltek.state import STATE_KEY, answer, read_json


async def firms(request: web.Request) -> web.Response:
    """Every firm with its addresses and vendor accounting, as one document per firm."""
    store = request.app[STATE_KEY].store
    return answer(
        [
            {
                **firm,
                "CLAddress": store.addresses.get(client_id, []),
                "VEAccounting": [row] if (row := store.ve_accounting.get(client_id)) else [],
            }
            for client_id, firm in store.firms.items()
        ]
    )


async def batches(request: web.Request) -> web.Response:
    """Every AP batch with its vouchers and lines, posted or not."""
    store = request.app[STATE_KEY].store
    return answer([batch_view(batch, nested=True) for batch in store.batches.values()])


async def ledger(request: web.Request) -> web.Response:
    """The AP ledger as PSALedger/AP answers it, invoice column named as the tenant names it."""
    state = request.app[STATE_KEY]
    return answer(ledger_view(state.store.ledger, state.options.ledger_invoice_key))


async def reset(request: web.Request) -> web.Response:
    """Rebuild the seeded data set; tokens, options and the fault plan stay as they are."""
    request.app[STATE_KEY].reset()
    return answer({"reset": True})


async def get_options(request: web.Request) -> web.Response:
    return answer(request.app[STATE_KEY].options.model_dump(mode="json"))


async def patch_options(request: web.Request) -> web.Response:
    """Change run-time options, e.g. ``{"restricted_role": true}`` or a shorter token lifetime."""
    state = request.app[STATE_KEY]
    try:
        patch = RuntimePatch.model_validate(await read_json(request) or {})
    except ValidationError as exc:
        return answer({"errors": exc.errors(include_url=False, include_context=False)}, 400)
    state.options = state.options.model_copy(update=patch.model_dump(exclude_none=True))
    return answer(state.options.model_dump(mode="json"))


async def expire_tokens(request: web.Request) -> web.Response:
    """Every access token issued so far stops working now; refresh tokens stay valid."""
    return answer({"expired": expire_all(request.app[STATE_KEY])})


def add_admin_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_admin/firms", firms)
    router.add_get("/_admin/batches", batches)
    router.add_get("/_admin/ledger", ledger)
    router.add_post("/_admin/reset", reset)
    router.add_get("/_admin/options", get_options)
    router.add_post("/_admin/options", patch_options)
    router.add_post("/_admin/tokens/expire", expire_tokens)
