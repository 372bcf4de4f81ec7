"""``POST /_admin/invoices/{id}/void``: an approved invoice becomes voided, as Coupa's
``PUT /api/invoices/:id/void`` leaves it; one that cannot be voided is refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_an_approved_invoice_is_voided_once_and_a_draft_never(sim, http):
    store = sim.store
    invoice = store.create_invoice(None, None, "pending_approval")
    store.approve_invoice(invoice["id"], callout=False)

    async with http.post(f"{sim.url}/_admin/invoices/{invoice['id']}/void?callout=false") as answer:
        assert answer.status == 200
        voided = await answer.json()
    assert voided["status"] == "voided"
    assert store.get("invoices", invoice["id"])["status"] == "voided"

    draft = store.create_invoice(None, None, "draft")
    async with http.post(f"{sim.url}/_admin/invoices/{draft['id']}/void") as answer:
        assert answer.status == 400
        assert "cannot be voided" in str(await answer.json())
    async with http.post(f"{sim.url}/_admin/invoices/{invoice['id']}/void") as answer:
        assert answer.status == 400  # voided already
