"""Tenant probes of ``connections test``: the Vantagepoint settings that decide whether a tenant
takes the connector's vouchers (deltek-api.md §3.D), checked where the API shows them and
otherwise reported as what the connector assumes (``ASSUMED``), so nobody mistakes an assumption
for a checked fact.

Checked, with GETs only: the accounting periods and which one an invoice approved today books in
(the mapper's own rule over the rows the reference refresh reads), the bank code
(``GET /BankCode/CFGBANKS``, §4), and the PSALedger/AP column holding the vendor's invoice
number, found out and stored exactly as the poster does it (``LedgerInvoices``). Not visible
through the API, so assumed: voucher numbering, "Use Files to Group Transactions", "Require
Complete Approvals to Post Transaction Files" and the liability code (no documented endpoint,
§4). The pay-terms targets are the connection's own, validated when it was applied; they are
reported so the operator sees what Coupa's terms become. docs/go-live-checklist.md says where
each setting lives in Vantagepoint.
"""

from __future__ import annotations

from datetime import date

from shared.connection_settings import DeltekPostingSettings, MappingSettings
from shared.connections.findings import Finding, skipped
from shared.db.pool import Connection, Pool
from shared.deltek import DeltekClient, FieldMissingError, NeedsAttentionError
from shared.deltek.keys import voucher_number
from shared.http import HttpError
from shared.reference.cache import Row, reference_from_rows
from shared.reference.refresh import FETCH
from shared.tenant_facts import LedgerInvoices

# No vendor or invoice is called this, so the ledger look-up matches nothing and reads no rows.
_NOBODY = "~connector connections test~"
_AP_SETTINGS = "Settings > Cash Management > Accounts Payable"
_TRANSACTION_SETTINGS = "Settings > Accounting > Transactions"


# -- checked -----------------------------------------------------------------------------------


async def probe_periods(vp: DeltekClient, today: date) -> list[Finding]:
    """Whether periods are readable at all, then which are open and where today's invoices go."""
    check, hint = "Deltek periods", "give the API user's role access to Accounting settings"
    try:
        rows = await FETCH["periods"](vp)
    except HttpError as exc:
        failed = Finding(check, "PROBLEM", f"reading accounting periods failed: {exc}", hint)
        return [failed, skipped("Open periods", "the periods could not be read")]
    if not rows:
        empty = Finding(check, "PROBLEM", "no accounting periods are visible", hint)
        return [empty, skipped("Open periods", "no periods are visible")]
    readable = Finding(check, "OK", f"{len(rows)} accounting periods are readable")
    return [readable, _open_periods(rows, today)]


def _open_periods(rows: list[Row], today: date) -> Finding:
    """The mapper books an invoice in the open period of its approval date, else the next open
    one (``Reference.period_for``); without either it parks it."""
    check = "Open periods"
    hint = (
        "open the period in Vantagepoint (Utilities > Open New Period, or Utilities > Period "
        "Setup to reopen one); parked invoices go on after the next reference refresh"
    )
    reference = reference_from_rows({"periods": rows}, {})
    parks = f'invoices approved now would park ("No open Deltek period for {today:%Y-%m}")'
    if not reference.open_periods:
        return Finding(
            check, "PROBLEM", f"none of the {len(rows)} accounting periods is open: {parks}", hint
        )
    opened = f"{len(reference.open_periods)} of {len(rows)} accounting periods are open"
    booked = reference.period_for(today)
    if booked is None:
        return Finding(check, "PROBLEM", f"{opened}, none this month's or later: {parks}", hint)
    if booked.contains(today):
        return Finding(
            check,
            "OK",
            f"{opened}, this month's ({booked.period}) among them: invoices approved today "
            "book in it",
        )
    return Finding(
        check,
        "OK",
        f"{opened}, but not this month's: invoices approved today book in {booked.period}, "
        "the next open one",
    )


async def probe_bank_code(vp: DeltekClient, code: str | None) -> Finding:
    check, where = "Bank code", "Settings > Cash Management > Banks"
    if not code:
        return Finding(
            check,
            "PROBLEM",
            "deltek.bank_code is not set: Deltek needs a bank code on every voucher, so every "
            "invoice would park",
            f"set deltek.bank_code to one of the tenant's bank codes ({where})",
        )
    try:
        banks = {bank.Code: bank for bank in await vp.list_bank_codes()}
    except HttpError as exc:
        # The endpoint is only corroborated by third parties (§4): unreadable is not wrong.
        return Finding(
            check,
            "ASSUMED",
            f"the bank codes could not be read ({exc}); vouchers carry bank code {code!r} "
            "(deltek.bank_code), assumed to exist",
            f"confirm it under {where}, or let the API role read bank codes",
        )
    bank = banks.get(code)
    if bank is None:
        known = ", ".join(sorted(banks)) or "none visible"
        return Finding(
            check,
            "PROBLEM",
            f"bank code {code!r} (deltek.bank_code) is not among the tenant's bank codes "
            f"({known}): Deltek would refuse every voucher",
            f"set deltek.bank_code to the code vouchers are paid from ({where})",
        )
    named = ", ".join(
        f"{label} {value}"
        for label, value in (("company", bank.Company), ("account", bank.Account))
        if value
    )
    description = bank.Description or "no description"
    return Finding(
        check,
        "OK",
        f"bank code {code!r} exists ({description}{', ' if named else ''}{named})",
    )


async def probe_ledger_column(
    vp: DeltekClient, db: Pool | Connection, connection: str, fixed: str | None
) -> Finding:
    """The poster's own look-up of a posted invoice, for an invoice nobody has: it uses the
    setting, else the stored column, else finds the column out and stores it; a column the
    tenant lacks latches ``vp`` as needing attention, so this probe has to come last."""
    check = "Ledger column"
    try:
        ledger = LedgerInvoices(db, vp, connection, fixed=fixed)
        await ledger.find_posted_invoice(_NOBODY, _NOBODY)
    except NeedsAttentionError as exc:
        return Finding(check, "PROBLEM", str(exc), _ledger_hint(fixed, exc))
    except HttpError as exc:
        return Finding(
            check,
            "PROBLEM",
            f"looking up posted invoices in the AP ledger (PSALedger/AP) failed: {exc}",
            "give the API user's role access to posted AP transactions",
        )
    column = ledger.column
    if fixed:
        return Finding(
            check,
            "OK",
            f"the AP ledger (PSALedger/AP) has the column {column!r} that "
            "deltek.ledger_invoice_column names",
        )
    return Finding(
        check,
        "OK",
        f"the AP ledger (PSALedger/AP) keeps the vendor's invoice number in {column!r}; "
        "stored for the poster's duplicate check",
    )


def _ledger_hint(fixed: str | None, exc: NeedsAttentionError) -> str:
    """The message is the poster's own (``LedgerInvoices``); the hint says which way out fits."""
    if fixed:
        return (
            "set deltek.ledger_invoice_column to the column that holds the vendor's invoice "
            "number, or remove it to let the connector find it out"
        )
    if isinstance(exc.__cause__, FieldMissingError):
        return "run this test again: the forgotten column is found out anew"
    return (
        "ask Deltek which PSALedger/AP column holds the vendor's invoice number (the API role "
        "must see it)"
    )


# -- assumed -----------------------------------------------------------------------------------


def assumptions(deltek: DeltekPostingSettings, mapping: MappingSettings) -> list[Finding]:
    """What the connector takes the tenant's settings to be where the API cannot show them."""
    return [
        _liability_code(deltek.liability_code),
        _voucher_numbers(deltek),
        Finding(
            "Group by files",
            "ASSUMED",
            "vouchers go in as files (POST /DataEntry/apControl), which Vantagepoint takes "
            'only when "Use Files to Group Transactions" is Yes; the API cannot show it',
            f"confirm it is Yes for the company under {_TRANSACTION_SETTINGS}; with No, expect "
            "every voucher entry to be refused and its invoice to park",
        ),
        _post_approvals(deltek.post_batches),
        _pay_terms(mapping),
    ]


def _liability_code(code: str | None) -> Finding:
    check, where = "Liability code", f"{_AP_SETTINGS} > Liability Accounts"
    if not code:
        return Finding(
            check,
            "PROBLEM",
            "deltek.liability_code is not set: Deltek needs a liability code on every voucher, "
            "so every invoice would park",
            f"set deltek.liability_code to one of the company's liability codes ({where})",
        )
    return Finding(
        check,
        "ASSUMED",
        f"vouchers carry liability code {code!r} (deltek.liability_code); no documented "
        "endpoint lists liability codes, so a wrong one shows only when Deltek refuses a voucher",
        f"confirm the code under {where}",
    )


def _voucher_numbers(deltek: DeltekPostingSettings) -> Finding:
    check = "Voucher numbers"
    where = f'"Require Entry of Voucher Numbers" under {_AP_SETTINGS} > Options'
    if deltek.voucher_numbers == "assigned":
        return Finding(
            check,
            "ASSUMED",
            "Vantagepoint numbers the vouchers (deltek.voucher_numbers: assigned); the API "
            "cannot show whether the company requires entry of voucher numbers, and if it does, "
            'Deltek refuses every voucher: "Please provide a Voucher for table apMaster."',
            f"confirm {where} is No; if it is Yes, set deltek.voucher_numbers: ours",
        )
    return Finding(
        check,
        "ASSUMED",
        "the connector enters its own voucher numbers (deltek.voucher_numbers: ours, e.g. "
        f"{voucher_number('example')}); the API cannot show whether the company requires entry "
        "of voucher numbers, and if it assigns them instead, expect Deltek to refuse every "
        "voucher (its answer is not documented)",
        f"confirm {where} is Yes and that the company's valid range of voucher numbers admits "
        "these; if it is No, set deltek.voucher_numbers: assigned",
    )


def _post_approvals(post_batches: bool) -> Finding:
    check = "Post approvals"
    if not post_batches:
        return skipped(
            check,
            "the connector does not post (deltek.post_batches: false); people approve and post "
            "the files it enters, in Transaction Center",
        )
    return Finding(
        check,
        "ASSUMED",
        "the connector posts every file it enters (deltek.post_batches: true), assuming AP "
        'files need no approval first; if "Require Complete Approvals to Post Transaction '
        'Files" applies to AP vouchers, Deltek refuses the posting and the invoice parks, '
        "entered but not posted",
        f"confirm the Transaction Center approvals under {_TRANSACTION_SETTINGS} leave AP "
        "vouchers out; otherwise set deltek.post_batches: false",
    )


def _pay_terms(mapping: MappingSettings) -> Finding:
    """Reported, not checked: ``mapping.pay_terms`` only takes Vantagepoint's closed set, which
    the connections file was held to when it was applied."""
    mapped = [f"{code!r} -> {terms}" for code, terms in sorted(mapping.pay_terms.items())]
    net = (
        "Date, pay date = invoice date + the net days"
        if mapping.net_terms_as == "Date"
        else "Next, the next check run"
    )
    rules = [
        ", ".join(mapped) if mapped else "no Coupa term is mapped (mapping.pay_terms)",
        f"other terms with net days -> {net} (mapping.net_terms_as)",
        "terms without net days park until mapping.pay_terms names them",
    ]
    return Finding("Pay terms", "OK", "Coupa terms become Vantagepoint's own: " + "; ".join(rules))
