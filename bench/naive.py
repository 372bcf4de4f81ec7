"""The baseline: the script a customer would otherwise write, booking one invoice at a time.

For each approved Coupa invoice changed since it started: fetch the purchase orders it cites,
map it with a plain crosswalk (supplier → vendor; an account's project segment → WBS1, GL
segment → account, phase segment → WBS2; one account per kind of charge and one for tax), ask
Deltek's AP ledger whether the vendor's invoice is already there, and if not enter it as a batch
of its own and post that. Real clients (``shared.coupa``, ``shared.deltek``) with their rate
limits and retries, but no queue, no database and nothing in parallel. Its vouchers must pass
the same independent checker as the pipeline's (``devstack.checker``), so the baseline the
pipeline is measured against does the whole job, not a shortcut of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.connection_settings import DeltekPostingSettings, MappingSettings
from shared.coupa import CoupaClient
from shared.coupa.orders import cited_purchase_orders
from shared.deltek import ApBatch, ApDetail, ApMaster, DeltekClient, Period
from shared.deltek.keys import batch_name, line_pkey, master_pkey
from shared.messages import invoice_job_id

Json = dict[str, Any]
BLANK_WBS = " "
# The vendor's payment runs decide when it is paid; the simplest of Vantagepoint's pay terms.
PAY_TERMS = "Next"


@dataclass(frozen=True)
class Crosswalk:
    """The customer's maps from Coupa values to Deltek ones, and the layout of Coupa accounts."""

    vendors: Mapping[str, str]  # Coupa supplier number → Deltek vendor
    accounts: Mapping[str, str]  # GL segment → Deltek account
    projects: Mapping[str, str]  # project segment → WBS1
    layout: MappingSettings  # which segment is which; the accounts for charges and tax

    def coding(self, account: Json) -> tuple[str, str, str]:
        """Account, WBS1 and WBS2 of a Coupa account (a GL-only account books no WBS)."""

        def segment(number: int | None) -> str:
            return str(account.get(f"segment-{number}") or "") if number else ""

        gl = segment(self.layout.gl_account_segment)
        project = segment(self.layout.project_segment)
        if not project:
            return self.accounts.get(gl, gl), BLANK_WBS, BLANK_WBS
        wbs2 = segment(self.layout.phase_segment) or BLANK_WBS
        return self.accounts.get(gl, gl), self.projects.get(project, project), wbs2

    def charge_account(self, charge_type: str) -> str:
        named = {
            "InvoiceShippingCharge": self.layout.shipping_account,
            "InvoiceHandlingCharge": self.layout.handling_account,
            "InvoiceMiscCharge": self.layout.misc_account,
        }.get(charge_type)
        return self._named(named, charge_type)

    def tax_account(self) -> str:
        return self._named(self.layout.tax_account, "tax")

    @staticmethod
    def _named(account: str | None, what: str) -> str:
        if account is None:
            raise ValueError(f"the crosswalk names no Deltek account for {what}")
        return account


@dataclass(frozen=True)
class Line:
    description: str
    amount: Decimal
    account: str
    wbs1: str = BLANK_WBS
    wbs2: str = BLANK_WBS
    po_number: str | None = None


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def lines(invoice: Json, orders: list[Json], walk: Crosswalk) -> list[Line]:
    """One line per invoice line (per split allocation), per charge, and one for tax."""
    po_of = {
        order_line["id"]: str(order["po-number"])
        for order in orders
        for order_line in order.get("order-lines") or []
    }
    found: list[Line] = []
    for line in invoice.get("invoice-lines") or []:
        po_number = line.get("po-number") or po_of.get(line.get("order-line-id"))
        allocations = line.get("account-allocations")
        parts = (
            [(split["amount"], split["account"]) for split in allocations]
            if allocations
            else [(line["total"], line["account"])]
        )
        for amount, account in parts:
            coding = walk.coding(account)
            found.append(Line(line.get("description") or "", _money(amount), *coding, po_number))
    for charge in invoice.get("invoice-charges") or []:
        account = walk.charge_account(charge["type"])
        found.append(Line(charge.get("description") or "", _money(charge["total"]), account))
    tax = _money(invoice.get("tax-amount"))
    if tax:
        found.append(Line("Tax", tax, walk.tax_account()))
    return found


def _day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).date()


def period_of(periods: list[Period], day: date) -> int:
    """The accounting period ``day`` falls in."""
    for period in periods:
        start, end = period.AccountPdStart, period.AccountPdEnd
        if start is not None and end is not None and start <= day <= end:
            return period.Period
    raise ValueError(f"Deltek has no period for {day}")


def voucher(
    invoice: Json,
    orders: list[Json],
    walk: Crosswalk,
    posting: DeltekPostingSettings,
    period: int,
    connection: str,
) -> ApBatch:
    """The AP batch of one invoice: one voucher, its lines, keys derived from the invoice."""
    job = invoice_job_id(connection, invoice["id"])
    batch, key = batch_name(job), master_pkey(job)
    booked = lines(invoice, orders, walk)
    invoice_day = _day(invoice["invoice-date"])
    currency = invoice["currency"]["code"]
    master = ApMaster(
        Batch=batch,
        MasterPKey=key,
        Seq=1,
        Vendor=walk.vendors[str(invoice["supplier"]["number"])],
        Invoice=invoice["invoice-number"],
        InvoiceDate=invoice_day,
        TransDate=invoice_day,
        LiabCode=str(posting.liability_code),
        BankCode=str(posting.bank_code),
        PayTerms=PAY_TERMS,
        CurrencyCode=currency,
    )
    details = [
        ApDetail(
            Batch=batch,
            MasterPKey=key,
            PKey=line_pkey(job, seq),
            Seq=seq,
            Description=line.description,
            Account=line.account,
            WBS1=line.wbs1,
            WBS2=line.wbs2,
            WBS3=BLANK_WBS,
            Amount=line.amount,
            NetAmount=line.amount,
            PONumber=line.po_number,
        )
        for seq, line in enumerate(booked, start=1)
    ]
    return ApBatch(
        Batch=batch,
        Description=f"Coupa invoice {invoice['invoice-number']}",
        Period=period,
        Company=posting.company,
        DefaultCurrencyCode=currency,
        Total=sum((line.amount for line in booked), Decimal(0)),
        Posted="N",
        apMaster=[master],
        apDetail=details,
    )


async def book_approved(
    coupa: CoupaClient,
    deltek: DeltekClient,
    walk: Crosswalk,
    posting: DeltekPostingSettings,
    *,
    since: datetime,
    connection: str,
) -> int:
    """Book every approved invoice changed since ``since``, one at a time; how many it posted."""
    periods = await deltek.list_periods()
    column = posting.ledger_invoice_column or "Invoice"
    posted = 0
    async for found in coupa.iter_invoices(since=since):
        invoice = found.raw
        orders = await cited_purchase_orders(coupa, invoice)
        period = period_of(periods, _day(invoice["updated-at"]))
        batch = voucher(invoice, orders, walk, posting, period, connection)
        master = batch.apMaster[0]
        if await deltek.find_posted_invoice(master.Vendor, master.Invoice, column=column):
            continue
        await deltek.create_ap_batch(batch)
        await deltek.post_batch(batch.Batch, period, company=posting.company or "")
        posted += 1
    return posted
