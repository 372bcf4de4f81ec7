"""How calls to Coupa are measured: the endpoint templates of every path the client and its
token provider call, so metrics carry ``GET /api/invoices/{id}``, never an id."""

from __future__ import annotations

from shared.api_calls import ApiCalls, Routes

ROUTES = Routes(
    [
        "/oauth2/token",
        "/api/invoices",
        "/api/invoices/{id}",
        "/api/suppliers",
        "/api/suppliers/{id}",
        "/api/purchase_orders",
        "/api/purchase_orders/{id}",
    ],
    auth_path="/oauth2/token",
)
CALLS = ApiCalls("coupa", ROUTES)
