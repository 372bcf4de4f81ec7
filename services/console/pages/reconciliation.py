"""Reconciliation: the latest ``connector reconcile`` run of each connection's period, and what
did not match in one of them. Reads the stored runs only (``shared/reconcile/results.py``): a
reconciliation reads both APIs for minutes, so the console shows the scheduled run's result and
names the command, rather than starting one on a click. Everyone signed in may read it."""

from __future__ import annotations

from aiohttp import web

from services.console.web import refuse, render
from shared.reconcile.model import Kind
from shared.reconcile.results import latest_findings, latest_results
from shared.service.app import POOL

# The classes in a clerk's words; CSV files and metrics keep the machine names.
CLASS_LABELS = {
    Kind.MATCHED: "Matched",
    Kind.MISSING_IN_DELTEK: "Missing in Deltek",
    Kind.NOT_FROM_COUPA: "In Deltek, not from Coupa",
    Kind.AMOUNT_MISMATCH: "Amount differs",
    Kind.VENDOR_MISMATCH: "Vendor differs",
    Kind.LINE_MISMATCH: "Lines differ",
    Kind.CHANGED_IN_COUPA: "Changed in Coupa after posting",
    Kind.POSTED_TWICE: "Posted twice",
}


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/reconciliation", show)
    router.add_get(r"/reconciliation/{connection}/{period:\d{6}}", show_period)


async def show(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        results = await latest_results(conn)
    context = {"results": results, "chosen": None, "labels": CLASS_LABELS}
    return render(request, "reconciliation.html", context)


async def show_period(request: web.Request) -> web.Response:
    connection, period = request.match_info["connection"], int(request.match_info["period"])
    async with request.app[POOL].acquire() as conn:
        findings = await latest_findings(conn, connection, period)
        stored = await latest_results(conn)
    results = [r for r in stored if (r.connection, r.period) == (connection, period)]
    if findings is None:
        return refuse(request, f"{connection} {period} was never reconciled.", status=404)
    context = {
        "results": results,
        "chosen": (connection, period),
        "findings": findings,
        "labels": CLASS_LABELS,
    }
    return render(request, "reconciliation.html", context)
