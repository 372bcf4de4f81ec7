"""The connection ``connector dev`` and ``connector demo`` set up for the two simulators.

The simulators are seeded independently, as a real Coupa and a real Deltek are, so before an
invoice can resolve the reference data must be aligned, exactly the step a customer takes with
``connector mappings import``: suppliers to vendor firms, GL segments to accounts, project codes
to WBS1. Here the maps are derived from both systems' data: Coupa suppliers and project codes
are paired in order with active Deltek vendors and with active, chargeable Deltek projects that
have the three phases the Coupa accounts use; GL segments follow a chart-of-accounts crosswalk.
"""

from __future__ import annotations

import asyncio
import logging
from itertools import cycle

from pydantic import SecretStr

from devstack.supervisor import SIM_CONNECTION, Stack
from shared.connection_settings import MappingSettings, Mode
from shared.connections.model import (
    Connection,
    CoupaSettings,
    DeltekSettings,
    Secrets,
    StoredSettings,
)
from shared.connections.store import apply_connections
from shared.coupa.client import CoupaClient
from shared.db.pool import Pool, create_pool
from shared.deltek.client import DeltekClient
from shared.mappings import upsert_mappings
from shared.reference.refresh import refresh
from shared.secrets import KeyRing, MasterKey

log = logging.getLogger(__name__)

# Coupa's GL segment values (the simulator's chart) to the Deltek simulator's accounts.
GL_CROSSWALK = {
    "5200": "531.00",  # Subconsultants -> Reimbursable Subconsultants
    "5300": "513.00",  # Reimbursables -> Reimbursable Survey
    "5400": "511.00",  # Travel -> Reimbursable Travel
    "5500": "521.00",  # Equipment Rental -> Reimbursable Equipment Rental
    "5600": "512.00",  # Printing -> Reimbursable Printing
    "6100": "651.00",  # Software Subscriptions
    "6200": "641.00",  # Office Supplies
    "6300": "662.00",  # Utilities
}
SIM_MAPPING = MappingSettings(
    gl_account_segment=2,
    project_segment=1,
    phase_segment=3,
    task_segment=None,
    shipping_account="642.00",
    handling_account="642.00",
    misc_account="699.00",
    tax_account="699.00",
    # Used only with create_vendors; Coupa's "Net 30" becomes Date + 30 days by default.
    vendor_1099_field="form-1099",
)
PHASES = ("100", "200", "300")
# The simulators take any credentials; these are stored (sealed) like real ones, and the secret
# sweeps look for them everywhere they must not be.
SIM_SECRETS = {
    "Coupa client secret": "sim-coupa-client-secret",
    "Deltek password": "sim-deltek-password",
    "Deltek client secret": "sim-deltek-client-secret",
}


def sim_connection(
    stack: Stack,
    *,
    poll_interval_seconds: float = 15,
    create_vendors: bool = False,
    mode: Mode = "live",
) -> Connection:
    """A connection pointing at the simulators the stack runs (they accept any credentials);
    ``create_vendors`` turns vendor sync on; ``mode`` preview makes it a shadow run."""
    args = stack.args
    settings = StoredSettings(
        mode=mode,
        coupa=CoupaSettings(
            base_url=f"http://127.0.0.1:{args.coupa_sim_port}",
            client_id="connector",
            api_version=None,
            poll_interval_seconds=poll_interval_seconds,
            token_first_use_delay_seconds=0,
        ),
        deltek=DeltekSettings(
            base_url=f"http://127.0.0.1:{args.deltek_sim_port}/api",
            database="SIM",
            username="COUPA_API",
            client_id="coupa-connector",
            company="01",
            liability_code="Trade",
            bank_code="OPER",
            post_batches=True,
        ),
        mapping=SIM_MAPPING.model_copy(update={"create_vendors": create_vendors}),
    )
    secrets = Secrets(
        coupa_client_secret=SecretStr(SIM_SECRETS["Coupa client secret"]),
        coupa_callout_secrets=(SecretStr(stack.callout_secret),),
        deltek_password=SecretStr(SIM_SECRETS["Deltek password"]),
        deltek_client_secret=SecretStr(SIM_SECRETS["Deltek client secret"]),
    )
    return Connection(SIM_CONNECTION, settings, secrets)


def prepare_sim_connection(
    stack: Stack,
    *,
    poll_interval_seconds: float = 15,
    create_vendors: bool = False,
    mode: Mode = "live",
) -> None:
    """Store the simulators' connection, fill the Deltek reference cache, align the maps; run
    again with another ``mode`` to switch the stored connection (a no-op for the rest)."""
    connection = sim_connection(
        stack,
        poll_interval_seconds=poll_interval_seconds,
        create_vendors=create_vendors,
        mode=mode,
    )
    asyncio.run(_prepare(stack, connection))


async def _prepare(stack: Stack, connection: Connection) -> None:
    assert stack.endpoints is not None
    ring = KeyRing(MasterKey.parse(stack.master_key, source="CONNECTOR_MASTER_KEY"))
    pool = await create_pool(stack.endpoints.database_url)
    try:
        async with pool.acquire() as conn:
            await apply_connections(conn, ring, [connection])
        async with DeltekClient(connection.deltek_config()) as deltek:
            await refresh(pool, deltek, SIM_CONNECTION)
        async with CoupaClient(connection.coupa_config()) as coupa:
            suppliers = sorted([s.raw async for s in coupa.iter_suppliers()], key=_id)
            projects = sorted(
                {
                    str(line["account"]["segment-1"])
                    async for invoice in coupa.iter_invoices(status=None)
                    for line in invoice.raw.get("invoice-lines") or []
                    if line.get("account") and line["account"].get("segment-1")
                }
            )
        await _align(pool, [str(s["number"]) for s in suppliers], projects)
    finally:
        await pool.close()


def _id(record: dict[str, object]) -> int:
    value = record["id"]
    assert isinstance(value, int)
    return value


async def _align(pool: Pool, supplier_numbers: list[str], project_codes: list[str]) -> None:
    async with pool.acquire() as conn:
        vendors = [
            row["vendor"]
            for row in await conn.fetch(
                """SELECT vendor FROM deltek_vendors
                    WHERE connection = $1 AND status = 'A' AND vendor IS NOT NULL
                    ORDER BY vendor""",
                SIM_CONNECTION,
            )
        ]
        wbs1s = [
            row["wbs1"]
            for row in await conn.fetch(
                """SELECT p.wbs1 FROM deltek_projects p
                    WHERE p.connection = $1 AND p.wbs2 = '' AND p.status = 'A'
                      AND p.charge_type = 'R'
                      AND (SELECT count(*) FROM deltek_projects ph
                            WHERE ph.connection = p.connection AND ph.wbs1 = p.wbs1
                              AND ph.wbs2 = ANY($2::text[]) AND ph.wbs3 = ''
                              AND ph.status = 'A' AND NOT ph.sub_level) = $3
                    ORDER BY p.wbs1""",
                SIM_CONNECTION,
                list(PHASES),
                len(PHASES),
            )
        ]
        if not vendors or not wbs1s:
            raise RuntimeError("the Deltek simulator's reference data has no vendors or projects")
        maps = {
            "supplier": list(zip(supplier_numbers, cycle(vendors), strict=False)),
            "account": list(GL_CROSSWALK.items()),
            "project": list(zip(project_codes, cycle(wbs1s), strict=False)),
        }
        for kind, rows in maps.items():
            await upsert_mappings(conn, SIM_CONNECTION, kind, rows, source="sim-alignment")
    log.info("simulator maps aligned", extra={k: len(v) for k, v in maps.items()})
