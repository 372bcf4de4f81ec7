"""Records and reference data for the console's integration tests, written as the services do."""

from __future__ import annotations

from typing import Any

from shared.db.pool import create_pool
from shared.kafka.envelope import Envelope
from shared.records import mark_dead_lettered, record_received, transition
from shared.reference.cache import replace

CONNECTION = "acme"
WAIT = {"kind": "supplier", "coupa_value": "217", "label": "Coupa supplier V-00217 (Wiley)"}
COMMAND = {
    "job_id": "acme:invoice:2",
    "total": "150.00",
    "lines": [
        {
            "seq": 1,
            "account": "511.00",
            "wbs1": "P100",
            "wbs2": "1",
            "amount": "100.00",
            "coupa_line_id": 22,
            "description": "travel",
            "source": "line",
        },
        {
            "seq": 2,
            "account": "699.00",
            "amount": "50.00",
            "coupa_line_id": None,
            "description": "tax",
            "source": "tax",
        },
    ],
}


def invoice(coupa_id: int, number: str, supplier: str, total: str, po: str) -> Envelope:
    body: dict[str, Any] = {
        "id": coupa_id,
        "invoice-number": number,
        "updated-at": "2026-11-01T10:00:00Z",
        "invoice-date": f"2026-11-0{coupa_id}T00:00:00Z",
        "gross-total": total,
        "currency": {"code": "USD"},
        "supplier": {"id": 200 + coupa_id, "number": f"V-0021{coupa_id}", "name": supplier},
        "invoice-lines": [
            {
                "id": 20 + coupa_id,
                "line-num": 1,
                "description": "travel",
                "total": total,
                "po-number": po,
                "account": {"code": "10-5400-1"},
            },
        ],
    }
    return Envelope(
        schema="InvoiceApproved",
        connection=CONNECTION,
        key=f"{CONNECTION}:invoice:{coupa_id}",
        source="webhook",
        payload={"invoice": body, "purchase_orders": []},
    )


async def seed(db_url: str) -> None:
    """Invoice 1 failed; 2 posted with its command; 3 and 4 parked waiting for supplier 217;
    a Deltek vendor VEND01 (active) and VEND02 (inactive) in the reference cache."""
    pool = await create_pool(db_url)
    try:
        async with pool.acquire() as conn:
            for coupa_id, number, supplier, total, po in (
                (1, "INV-1", "Acme Travel", "10.00", "PO-7"),
                (2, "INV-2", "Acme Travel", "150.00", "PO-8"),
                (3, "WIL-3", "Wiley", "30.00", "PO-9"),
                (4, "WIL-4", "Wiley", "40.00", "PO-9"),
            ):
                key = f"{CONNECTION}:invoice:{coupa_id}"
                record_id, _ = await record_received(
                    conn, invoice(coupa_id, number, supplier, total, po), None, service="mapper"
                )
                if coupa_id == 1:
                    await mark_dead_lettered(conn, key, "mapper", "the mapper fell over")
                if coupa_id == 2:
                    await transition(
                        conn,
                        record_id=record_id,
                        record_key=key,
                        state="posted",
                        service="poster",
                        event="posted",
                        details={"voucher": "0000123", "batch": "CPA-1"},
                        job_id=key,
                        command=COMMAND,
                        deltek_ref="CPA-1/0000123",
                    )
                if coupa_id in (3, 4):
                    await transition(
                        conn,
                        record_id=record_id,
                        record_key=key,
                        state="parked",
                        service="mapper",
                        event="parked",
                        details={},
                        reason="Coupa supplier V-00217 (Wiley) has no Deltek vendor",
                        waiting_for=[WAIT],
                    )
            async with conn.transaction():
                await replace(
                    conn,
                    CONNECTION,
                    "vendors",
                    [
                        ("C1", "VEND01", "Wiley Partners", "A", None),
                        ("C2", "VEND02", "Old Wiley", "I", None),
                    ],
                )
    finally:
        await pool.close()
