"""Ingest end to end on its side: Call Outs and the poll into Kafka, through the inbox."""

from __future__ import annotations

import base64
import time
from typing import Any

import asyncpg
import orjson
import pytest

from shared.coupa.signing import sign
from shared.kafka.envelope import Envelope
from tests.integration.ingest.conftest import CONNECTION, SECRET
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {
        "X-Coupa-Timestamp": stamp,
        "X-Coupa-Signature": sign(secret, stamp, body),
        "Content-Type": "application/json",
    }


def po_invoice(rig) -> dict[str, Any]:
    """A seeded approved invoice whose lines cite a purchase order."""
    for invoice in rig.sim_store.collections["invoices"].values():
        if invoice["status"] == "approved" and any(
            line.get("po-number") for line in invoice["invoice-lines"]
        ):
            return invoice
    raise AssertionError("the seed has no PO-backed approved invoice")


async def inbox_rows(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM coupa_inbox"))
    finally:
        await conn.close()


async def test_a_signed_invoice_is_published_once_with_its_purchase_orders(
    rig, db_url, kafka_bootstrap, topics
):
    invoice = po_invoice(rig)
    body = orjson.dumps(invoice)
    first = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=body, headers=signed(body))
    assert first.status == 202
    again = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=body, headers=signed(body))
    assert again.status == 200
    assert (await again.json())["status"] == "already received"

    events = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=1)
    ]
    assert len(events) == 1
    event = events[0]
    assert (event.key, event.schema_name, event.source) == (
        f"{CONNECTION}:invoice:{invoice['id']}",
        "InvoiceApproved",
        "webhook",
    )
    assert event.payload["invoice"] == invoice
    cited = {ln["po-number"] for ln in invoice["invoice-lines"] if ln.get("po-number")}
    assert {po["po-number"] for po in event.payload["purchase_orders"]} == cited
    # Nothing more arrives later: the duplicate was acknowledged, not republished.
    assert len(await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=2, within=2)) == 1


@pytest.mark.parametrize(
    "headers_for",
    [
        lambda body: {},
        lambda body: signed(body, secret="not-the-secret"),
        lambda body: signed(body, at=time.time() - 301),
        lambda body: {**signed(body), "X-Coupa-Signature": "sha256=" + "0" * 64},
        lambda body: {"Authorization": "Bearer forged.token.value.x"},
    ],
    ids=["unsigned", "wrong-secret", "expired", "forged", "forged-bearer"],
)
async def test_unauthenticated_pushes_get_401_and_are_kept_nowhere(rig, db_url, headers_for):
    body = orjson.dumps(po_invoice(rig))
    answer = await rig.client.post(
        f"/coupa/{CONNECTION}/invoices", data=body, headers=headers_for(body)
    )
    assert answer.status == 401
    assert await inbox_rows(db_url) == 0


async def test_a_signature_for_another_connection_is_refused(rig, db_url):
    body = orjson.dumps(po_invoice(rig))
    answer = await rig.client.post("/coupa/other/invoices", data=body, headers=signed(body))
    assert answer.status == 401
    assert await inbox_rows(db_url) == 0


async def test_a_rotated_secret_is_accepted_beside_the_new_one(rig):
    rig.directory.secrets = ["new-secret", SECRET]
    body = orjson.dumps(po_invoice(rig))
    assert (
        await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=body, headers=signed(body))
    ).status == 202


async def test_oauth_client_credentials_then_bearer_push(rig, kafka_bootstrap, topics):
    basic = base64.urlsafe_b64encode(f"{CONNECTION}:{SECRET}".encode()).decode()
    issued = await rig.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "Cache-Control": "no-cache"},
    )
    assert issued.status == 200
    grant = await issued.json()
    assert grant["token_type"] == "bearer" and grant["expires_in"] > 0
    supplier = next(iter(rig.sim_store.collections["suppliers"].values()))
    body = orjson.dumps(supplier)
    bearer = {
        "Authorization": f"Bearer {grant['access_token']}",
        "Content-Type": "application/json",
    }
    assert (
        await rig.client.post(f"/coupa/{CONNECTION}/suppliers", data=body, headers=bearer)
    ).status == 202
    assert (
        await rig.client.post("/coupa/other/suppliers", data=body, headers=bearer)
    ).status == 401
    events = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.coupa_suppliers, expect=1)
    ]
    assert [(e.schema_name, e.payload["supplier"]["id"]) for e in events] == [
        ("SupplierChanged", supplier["id"])
    ]


async def test_token_refused_for_a_wrong_secret(rig):
    answer = await rig.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": CONNECTION, "client_secret": "nope"},
    )
    assert answer.status == 401


async def test_oversized_and_malformed_bodies_are_refused_clearly(rig, db_url):
    huge = b'{"id": 1, "pad": "' + b"x" * (70 * 1024) + b'"}'
    assert (
        await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=huge, headers=signed(huge))
    ).status == 413
    for body in (b"{not json", b"[]", b'{"id": "7"}', b'{"id": 7}'):
        answer = await rig.client.post(
            f"/coupa/{CONNECTION}/invoices", data=body, headers=signed(body)
        )
        assert answer.status == 400, body
        assert "not a Coupa invoice" in (await answer.json())["error"]
    assert await inbox_rows(db_url) == 0
    metrics = await rig.metrics()
    assert 'connector_callouts_total{kind="invoice",outcome="bad_request"} 4.0' in metrics
    assert 'connector_callouts_total{kind="invoice",outcome="too_large"} 1.0' in metrics


async def test_the_poll_publishes_every_approved_invoice_once_keeps_the_pos_and_moves_its_cursor(
    rig, db_url, kafka_bootstrap, topics
):
    approved = [
        i
        for i in rig.sim_store.collections["invoices"].values()
        if i["status"] in ("approved", "voided")
    ]
    suppliers = rig.sim_store.collections["suppliers"]
    rig.directory.polling = True

    async def all_published() -> bool:
        conn = await asyncpg.connect(db_url)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM coupa_inbox WHERE published_at IS NOT NULL"
            ) == len(approved) + len(suppliers)
        finally:
            await conn.close()

    await eventually(all_published, within=60, what="the first poll publishing everything")
    events = [
        Envelope.decode(v)
        for v in await read_topic(kafka_bootstrap, topics.coupa_invoices, expect=len(approved))
    ]
    assert sorted(e.payload["invoice"]["id"] for e in events) == sorted(i["id"] for i in approved)
    assert {e.source for e in events} == {"poll"}
    conn = await asyncpg.connect(db_url)
    try:
        cursors = {
            r["kind"]: r["cursor_at"]
            for r in await conn.fetch("SELECT kind, cursor_at FROM poll_cursors")
        }
        kept = {r["po_id"] for r in await conn.fetch("SELECT po_id FROM coupa_purchase_orders")}
    finally:
        await conn.close()
    assert set(cursors) == {"invoice", "supplier", "purchase_order"}
    assert kept == set(rig.sim_store.collections["purchase_orders"])
