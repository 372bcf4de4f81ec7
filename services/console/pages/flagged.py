"""Flagged invoices: the list of those nobody acknowledged yet, and acknowledging one.

An acknowledgement is an audit event on the flagged version naming the user, with their note
(``read/flagged.py`` says why it is no state): the record stays flagged, and the exception queue
and the overview stop counting it as waiting for a person.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web

from services.console.read.flagged import ACKNOWLEDGED, awaiting_acknowledgement, flagged
from services.console.users import Role
from services.console.web import actor, needs, refuse, render, see_other, user_of
from shared.records import append_audit
from shared.service.app import POOL

log = logging.getLogger(__name__)

# A note says what is being done about it (a credit note asked for, a call to the supplier).
MAX_NOTE = 500


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/flagged", show)
    router.add_post("/flagged/acknowledge", acknowledge)


async def show(request: web.Request) -> web.Response:
    with_acknowledged = request.query.get("all") == "1"
    async with request.app[POOL].acquire() as conn:
        found = await flagged(conn, with_acknowledged=with_acknowledged)
    context = {"flagged": found, "all": with_acknowledged, "done": request.query.get("done", "")}
    return render(request, "flagged.html", context)


@needs(Role.OPERATOR)
async def acknowledge(request: web.Request) -> web.Response:
    form = await request.post()
    key, note = (str(form.get(name, "")).strip() for name in ("key", "note"))
    if not note or len(note) > MAX_NOTE:
        return refuse(
            request, f"Say in a note (up to {MAX_NOTE} characters) what is being done.", status=400
        )
    user = user_of(request).name
    async with request.app[POOL].acquire() as conn, conn.transaction():
        record_id = await awaiting_acknowledgement(conn, key)
        if record_id is None:
            return refuse(
                request, f"{key} is not a flagged record waiting to be acknowledged.", status=409
            )
        await append_audit(
            conn,
            record_key=key,
            record_id=record_id,
            service=actor(request),
            event=ACKNOWLEDGED,
            details={"user": user, "note": note},
        )
    log.info("flagged record acknowledged", extra={"user": user, "record_key": key})
    return see_other("/flagged?" + urlencode({"done": key}))
