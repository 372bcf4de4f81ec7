"""Searching a running stack for its own secrets: logs, metrics, and the tables that hold
payloads and audit trails. Used by the chaos run and the end-to-end secrets test."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import asyncpg

from devstack.sim_setup import SIM_SECRETS
from devstack.supervisor import SIM_CONNECTION, Stack
from shared.secrets.scan import Finding, SecretScanner

# Tables where a payload, an error or an audit detail could carry a secret by mistake.
TABLES = ("audit_events", "records", "credentials", "connections", "coupa_inbox")


def stack_scanner(stack: Stack, extra: Mapping[str, str] | None = None) -> SecretScanner:
    """A scanner for every secret the simulators' connection and the stack hold."""
    secrets = {
        **SIM_SECRETS,
        "Call Out secret": stack.callout_secret,
        "master key": stack.master_key,
        **(extra or {}),
    }
    return SecretScanner(
        secrets, partners=[SIM_CONNECTION, "connector", "coupa-connector", "COUPA_API"]
    )


async def sweep(stack: Stack, scanner: SecretScanner) -> list[Finding]:
    """Findings in the log folder, every service's metrics and the payload-bearing tables."""
    assert stack.endpoints is not None
    findings = scanner.scan_folder(stack.logs)
    async with aiohttp.ClientSession() as http:
        for child in stack.services():  # every poster instance too
            assert child.metrics_url is not None
            # raise_for_status: a sweep of an error page instead of the metrics would pass blind.
            async with http.get(child.metrics_url, raise_for_status=True) as answer:
                findings += scanner.scan(await answer.text(), f"{child.name} metrics")
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        for table in TABLES:
            rows = await conn.fetch(f"SELECT t::text FROM {table} t")  # noqa: S608 - our names
            findings += scanner.scan("\n".join(row[0] for row in rows), f"table {table}")
    finally:
        await conn.close()
    return findings
