"""The naive script's mapping, judged by the same checker as the pipeline, without any I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bench.naive import Crosswalk, lines, period_of, voucher
from devstack.checker import judge
from devstack.sim_setup import GL_CROSSWALK, SIM_MAPPING
from shared.connection_settings import DeltekPostingSettings
from shared.deltek import Period
from simulators.coupa.options import SeedSize
from simulators.coupa.seed import seed_dataset

DATA, _ = seed_dataset(7, SeedSize(suppliers=12, projects=5, purchase_orders=15, invoices=80), 0)
POSTING = DeltekPostingSettings(company="01", liability_code="Trade", bank_code="OPER")
WALK = Crosswalk(
    vendors={s["number"]: f"VEND{n:03d}" for n, s in enumerate(DATA.suppliers.values())},
    accounts=GL_CROSSWALK,
    projects={str(1001 + n): f"P{n}" for n in range(5)},
    layout=SIM_MAPPING,
)


def orders_of(invoice):
    cited = {line["po-number"] for line in invoice["invoice-lines"] if line.get("po-number")}
    return [po for po in DATA.purchase_orders.values() if po["po-number"] in cited]


def test_every_seeded_invoice_books_as_the_checker_demands():
    invoices = list(DATA.invoices.values())
    kinds = {
        "credit": any(i["document-type"] == "Credit Note" for i in invoices),
        "charges": any(i["invoice-charges"] for i in invoices),
        "tax": any(Decimal(i["tax-amount"]) for i in invoices),
        "split": any(line["account-allocations"] for i in invoices for line in i["invoice-lines"]),
        "po": any(orders_of(i) for i in invoices),
    }
    assert all(kinds.values()), kinds  # the data covers every case the mapping handles
    batches = [
        voucher(invoice, orders_of(invoice), WALK, POSTING, 202612, "naive").to_body()
        for invoice in invoices
    ]
    verdict = judge("naive", invoices, {}, batches, dict(WALK.vendors), label="naive")
    assert verdict.ok, verdict.problems[:5]
    assert verdict.posted == len(invoices)


def test_lines_code_accounts_through_the_crosswalk():
    invoice = next(i for i in DATA.invoices.values() if orders_of(i))
    line = invoice["invoice-lines"][0]
    account = line["account"] or line["account-allocations"][0]["account"]
    booked = lines(invoice, orders_of(invoice), WALK)[0]
    assert booked.account == GL_CROSSWALK[account["segment-2"]]
    assert booked.wbs1 == WALK.projects[account["segment-1"]]
    assert booked.wbs2 == account["segment-3"]
    assert booked.po_number == line["po-number"]


def test_the_po_number_comes_from_the_order_line_when_the_line_lacks_it():
    invoice = next(i for i in DATA.invoices.values() if orders_of(i))
    orders = orders_of(invoice)
    bare = {**invoice, "invoice-lines": [{**invoice["invoice-lines"][0], "po-number": None}]}
    assert lines(bare, orders, WALK)[0].po_number == invoice["invoice-lines"][0]["po-number"]


def test_period_is_the_one_the_day_falls_in():
    periods = [
        Period(Period=202611, AccountPdStart=date(2026, 11, 1), AccountPdEnd=date(2026, 11, 30)),
        Period(Period=202612, AccountPdStart=date(2026, 12, 1), AccountPdEnd=date(2026, 12, 31)),
    ]
    assert period_of(periods, date(2026, 12, 1)) == 202612
    assert period_of(periods, date(2026, 11, 30)) == 202611
    with pytest.raises(ValueError, match="no period"):
        period_of(periods, date(2027, 1, 1))
