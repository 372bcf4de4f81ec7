"""``connector connections test``: try a connection against Coupa and Deltek, say what is wrong.

Each check becomes one ``Finding`` in plain words with a hint what to fix. The causes are told
apart by what the real APIs document or are assumed to answer (coupa-api.md §1, §6;
deltek-api.md §1): the OAuth ``error`` code of a refused token (``invalid_client``,
``invalid_scope``, ``unauthorized_client``, ``invalid_grant``), a 403 on a read (missing scope),
the ``Date`` header against the local clock, and project fees that all read zero (a role without
full field visibility). Then the tenant's own settings (``tenant``): checked where the API shows
them, otherwise reported as assumed. Findings never carry a secret: only ids, codes, URLs and
the servers' messages.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import SimpleNamespace

import aiohttp
from aiohttp import hdrs

from shared.connections.findings import Finding, skipped
from shared.connections.model import Connection
from shared.connections.tenant import (
    assumptions,
    probe_bank_code,
    probe_ledger_column,
    probe_periods,
)
from shared.coupa import CoupaAuthError, CoupaClient, CoupaClientConfig, CoupaPermissionError
from shared.db.pool import Connection as DbConnection
from shared.db.pool import Pool
from shared.deltek import DeltekClient, DeltekConfig, NeedsAttentionError
from shared.deltek.errors import TokenRefusedError
from shared.http import Backoff, HttpError, RetryPolicy

# Beyond this the Call Out signature window (300 s) and the poll overlap start to suffer.
MAX_CLOCK_SKEW_SECONDS = 60.0
# A diagnosis should answer within seconds, not wait out a production retry schedule.
COUPA_TUNING = {
    "attempts": 2,
    "backoff_initial_seconds": 0.2,
    "backoff_max_seconds": 1.0,
    "timeout_seconds": 20.0,
    "page_size": 1,
}
DELTEK_RETRY = RetryPolicy(attempts=2, backoff=Backoff(initial=0.2, maximum=1.0))
DELTEK_TUNING = {"timeout_seconds": 20.0}
COUPA_CLIENTS = "Setup > Integrations > OAuth2/OpenID Connect Clients in Coupa"
VP_AUTHORIZATION = "Integrations > API Authorization in Vantagepoint"
# What needs a Deltek token, in the order reported.
DELTEK_READS = ("Deltek periods", "Open periods", "Deltek amounts", "Bank code", "Ledger column")


async def diagnose(connection: Connection, db: Pool | DbConnection) -> list[Finding]:
    """Both systems at once; Coupa's findings first, then Deltek's, then what is assumed.

    ``db`` keeps the tenant facts found out on the way (the ledger column), as the poster would.
    """
    coupa, deltek = await asyncio.gather(
        check_coupa(connection.coupa_config(**COUPA_TUNING)),
        check_deltek(connection, db),
    )
    settings = connection.settings
    return coupa + deltek + assumptions(settings.deltek, settings.mapping)


# -- Coupa -------------------------------------------------------------------------------------


class ClockProbe:
    """Collects Coupa's clock minus ours from the ``Date`` header of every answer."""

    def __init__(self) -> None:
        self.offsets: list[float] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)

    async def _on_end(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        header = params.response.headers.get(hdrs.DATE)
        try:
            server = parsedate_to_datetime(header) if header else None
        except (TypeError, ValueError):
            server = None
        if server is not None:
            self.offsets.append((server - datetime.now(UTC)).total_seconds())

    def finding(self) -> Finding:
        if not self.offsets:
            return Finding("Coupa clock", "SKIPPED", "Coupa sent no Date header to compare with")
        skew = statistics.median(self.offsets)
        if abs(skew) <= MAX_CLOCK_SKEW_SECONDS:
            return Finding("Coupa clock", "OK", "this machine's clock agrees with Coupa's")
        direction = "behind" if skew > 0 else "ahead of"
        return Finding(
            "Coupa clock",
            "PROBLEM",
            f"this machine's clock is {abs(skew):.0f} s {direction} Coupa's "
            f"(more than {MAX_CLOCK_SKEW_SECONDS:.0f} s)",
            "synchronise this host's clock (NTP): Call Out signatures allow 300 s, and token "
            "lifetimes and poll windows assume agreeing clocks",
        )


async def check_coupa(config: CoupaClientConfig) -> list[Finding]:
    """Token, one record from each resource the connector reads, and the clock."""
    probe = ClockProbe()
    timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout, trace_configs=[probe.trace]) as session:
        coupa = CoupaClient(config, session)
        token = await _coupa_token(coupa)
        reads = await _coupa_reads(coupa) if token.status == "OK" else skipped("Coupa reads")
    return [token, reads, probe.finding()]


async def _coupa_token(coupa: CoupaClient) -> Finding:
    config = coupa.config
    check = "Coupa token"
    try:
        await coupa.tokens.token()
    except CoupaAuthError as exc:
        return _coupa_refusal(exc, config)
    except HttpError as exc:
        return Finding(
            check,
            "PROBLEM",
            f"no token from {config.base_url}/oauth2/token: {exc}",
            "check coupa.base_url (https://<instance>.coupahost.com) and that this host reaches it",
        )
    return Finding(
        check, "OK", f"Coupa issued a token to client {config.client_id!r} with the scopes asked"
    )


def _coupa_refusal(exc: CoupaAuthError, config: CoupaClientConfig) -> Finding:
    check, code = "Coupa token", exc.oauth_error
    if code == "invalid_client" or (code is None and exc.status == 401):
        return Finding(
            check,
            "PROBLEM",
            f"Coupa rejected the client id {config.client_id!r} or its secret",
            f"compare coupa.client_id and the client secret with the client under {COUPA_CLIENTS}",
        )
    if code == "invalid_scope":
        return Finding(
            check,
            "PROBLEM",
            f"Coupa will not grant the scopes this connection asks for ({exc.description})",
            f"grant those scopes to the client under {COUPA_CLIENTS}, or drop them from "
            "coupa.scopes",
        )
    if code in ("unauthorized_client", "unsupported_grant_type"):
        return Finding(
            check,
            "PROBLEM",
            "the OAuth client in Coupa does not allow the client credentials grant",
            f"set its grant type to Client credentials under {COUPA_CLIENTS}",
        )
    return Finding(check, "PROBLEM", f"Coupa refused the token request: {exc.detail}")


async def _coupa_reads(coupa: CoupaClient) -> Finding:
    """One small GET per resource; a 403 means the token lacks that resource's read scope."""
    reads = (
        ("invoices", "core.invoice.read", lambda: anext(coupa.iter_invoices(status=None), None)),
        ("suppliers", "core.supplier.read", lambda: anext(coupa.iter_suppliers(), None)),
        (
            "purchase orders",
            "core.purchase_order.read",
            lambda: coupa.get_purchase_order_by_number("connector-connection-test"),
        ),
    )
    missing: list[str] = []
    for label, scope, read in reads:
        try:
            await read()
        except CoupaPermissionError:
            missing.append(scope)
        except HttpError as exc:
            return Finding("Coupa reads", "PROBLEM", f"reading {label} failed: {exc}")
    if missing:
        return Finding(
            "Coupa reads",
            "PROBLEM",
            f"the token may not read everything the connector needs: missing scope "
            f"{', '.join(missing)}",
            f"add {', '.join(missing)} to coupa.scopes and to the client under {COUPA_CLIENTS}",
        )
    return Finding("Coupa reads", "OK", "invoices, suppliers and purchase orders are readable")


# -- Deltek ------------------------------------------------------------------------------------


async def check_deltek(connection: Connection, db: Pool | DbConnection) -> list[Finding]:
    """Password grant (client, database, user), accounting periods, amount visibility, the bank
    code and the ledger's invoice column."""
    deltek = connection.settings.deltek
    config = connection.deltek_config(**DELTEK_TUNING)
    async with DeltekClient(config, retry=DELTEK_RETRY) as vp:
        token = await _deltek_token(vp)
        if token.status != "OK":
            return [token, *(skipped(check) for check in DELTEK_READS)]
        return [
            token,
            *await probe_periods(vp, datetime.now(UTC).date()),
            await _deltek_amounts(vp),
            await probe_bank_code(vp, deltek.bank_code),
            # Last: a column the tenant lacks latches the client as needing attention.
            await probe_ledger_column(vp, db, connection.name, deltek.ledger_invoice_column),
        ]


async def _deltek_token(vp: DeltekClient) -> Finding:
    config = vp.config
    try:
        await vp.auth.token()
    except NeedsAttentionError as exc:
        return _deltek_refusal(exc, config)
    except HttpError as exc:
        return Finding(
            "Deltek token",
            "PROBLEM",
            f"no token from {config.api}/token: {exc}",
            "check deltek.base_url (it ends in /api) and that this host reaches it",
        )
    return Finding(
        "Deltek token",
        "OK",
        f"Vantagepoint issued a token to user {config.username!r} on database {config.database!r}",
    )


def _deltek_refusal(exc: NeedsAttentionError, config: DeltekConfig) -> Finding:
    """Sort a refused password grant by its OAuth code (the token manager keeps it as cause)."""
    cause = exc.__cause__
    code = cause.oauth_error if isinstance(cause, TokenRefusedError) else None
    text = cause.detail if isinstance(cause, HttpError) else str(exc)
    check = "Deltek token"
    if code == "invalid_client":
        return Finding(
            check,
            "PROBLEM",
            f"Vantagepoint rejected the client id {config.client_id!r} or its secret ({text})",
            f"compare deltek.client_id and the client secret with {VP_AUTHORIZATION}; "
            "regenerating the secret there invalidates the old one",
        )
    if code in ("unauthorized_client", "unsupported_grant_type"):
        return Finding(
            check,
            "PROBLEM",
            f"the password grant is not enabled for this API client ({text})",
            f'tick "Allow Password Grant Type" on the authorization under {VP_AUTHORIZATION}',
        )
    # Deltek documents no separate code for an unknown database; its message names it.
    if code == "invalid_grant" and "database" in text.lower():
        return Finding(
            check,
            "PROBLEM",
            f"Vantagepoint does not know the database {config.database!r} ({text})",
            f"set deltek.database to the Database Name shown under {VP_AUTHORIZATION}",
        )
    if code == "invalid_grant":
        return Finding(
            check,
            "PROBLEM",
            f"Vantagepoint rejected the user {config.username!r} or its password ({text})",
            "check deltek.username and the password; the user must be able to log in",
        )
    if isinstance(cause, HttpError) and cause.status == 404:
        return Finding(
            check,
            "PROBLEM",
            f"there is no token endpoint at {config.api}/token",
            "deltek.base_url must be the API base, e.g. https://acme.deltekfirst.com/acme/api",
        )
    return Finding(check, "PROBLEM", f"Vantagepoint refused the token request: {text}")


async def _deltek_amounts(vp: DeltekClient) -> Finding:
    check = "Deltek amounts"
    try:
        visible = await vp.amounts_visible()
    except HttpError as exc:
        return Finding(check, "PROBLEM", f"reading project fees failed: {exc}")
    if not visible:
        return Finding(
            check,
            "PROBLEM",
            "every project fee reads as zero: the API user's role lacks full field visibility, "
            "so invoice amounts would read as zero too",
            "give the API role full field visibility (no hidden amount fields) in Vantagepoint",
        )
    return Finding(check, "OK", "amounts read as real values (project fees are not all zero)")
