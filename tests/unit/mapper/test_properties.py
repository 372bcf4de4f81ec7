"""Properties over generated and seeded invoices: splits add up, credits negate, seeds all map."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.mapper.rules.lines import split
from services.mapper.rules.outcome import Mapped
from services.mapper.rules.posted import Booked, flag_reason
from services.mapper.rules.resolve import map_invoice
from shared.messages import InvoiceApproved
from shared.reference.view import CachedProject, GlAccount, OpenPeriod, Reference, Vendor
from simulators.coupa.options import SeedSize
from simulators.coupa.records import GL_ACCOUNTS, PHASES
from simulators.coupa.seed import seed_dataset
from tests.unit.mapper.builders import NORTHWIND_RECORD, SETTINGS, event, invoice, line, reference

CENT = Decimal("0.01")
cents = st.integers(min_value=-10_000_000, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
weights = st.lists(st.integers(min_value=1, max_value=10_000).map(Decimal), min_size=1, max_size=8)


@given(cents, weights)
def test_a_split_by_percentages_always_adds_up_to_the_total(total, parts):
    shares = split(total, parts, CENT)
    assert sum(shares) == total
    assert len(shares) == len(parts)
    assert all(share == share.quantize(CENT) for share in shares)


@settings(max_examples=60)
@given(
    st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=100_000),
    st.booleans(),
)
def test_a_credit_note_makes_every_amount_and_the_total_negative(amounts, tax_cents, as_negative):
    sign = -1 if as_negative else 1
    values = [str(Decimal(sign * a) / 100) for a in amounts]
    inv = invoice(
        [line(n + 1, v) for n, v in enumerate(values)], tax=str(Decimal(sign * tax_cents) / 100)
    )
    inv["document-type"] = "Credit Note"
    result = map_invoice(event(inv), SETTINGS, reference(), NORTHWIND_RECORD)
    assert isinstance(result, Mapped)
    command = result.command
    assert command.is_credit_note
    assert all(ln.amount < 0 for ln in command.lines)
    assert command.total == sum(ln.amount for ln in command.lines) < 0


def _seeded_reference(data) -> Reference:
    """A Deltek tenant holding everything the Coupa seed refers to."""
    projects = {a["segment-1"] for a in data.accounts.values()}
    return Reference.build(
        vendors=[
            Vendor(f"c{s['id']}", s["number"], s["name"], "A") for s in data.suppliers.values()
        ],
        accounts=[GlAccount(gl, name, "A") for gl, name in GL_ACCOUNTS.items()]
        + [GlAccount(a, a, "A") for a in ("642.00", "699.00", "215.00")],
        projects=[CachedProject(p, "", "", p, "A", "R", True) for p in projects]
        + [CachedProject(p, ph, "", ph, "A", "R", False) for p in projects for ph in PHASES],
        open_periods=[
            OpenPeriod(2025_00 + m, date(2025, m, 1), date(2025, m, 28)) for m in range(1, 13)
        ]
        + [OpenPeriod(2026_01, date(2026, 1, 1), date(2026, 1, 31))],
    )


def test_every_approved_invoice_of_the_coupa_seed_maps_to_the_cent():
    data, _ = seed_dataset(
        7, SeedSize(suppliers=40, projects=8, purchase_orders=30, invoices=200), -480
    )
    ref = _seeded_reference(data)
    approved = [i for i in data.invoices.values() if i["status"] == "approved"]
    credit_notes = 0
    for inv in approved:
        pos = [
            data.purchase_orders[int(n)]
            for n in {ln["po-number"] for ln in inv["invoice-lines"] if ln["po-number"]}
        ]
        supplier = data.suppliers[inv["supplier"]["id"]]
        result = map_invoice(
            InvoiceApproved(invoice=inv, purchase_orders=pos), SETTINGS, ref, supplier
        )
        assert isinstance(result, Mapped), (inv["id"], result)
        command = result.command
        assert command.total == Decimal(inv["total-with-taxes"])
        assert sum(ln.amount for ln in command.lines) == command.total
        credit_notes += command.is_credit_note
    assert len(approved) > 50 and credit_notes > 0


def test_a_new_version_after_posting_is_flagged_unless_it_makes_the_same_voucher():
    inv = invoice([line(1, "300.00"), line(2, "200.00")])
    first = map_invoice(event(inv), SETTINGS, reference(), NORTHWIND_RECORD)
    assert isinstance(first, Mapped)
    booked = Booked(first.command.content_hash(), "V0042", 202503, first.command)

    exported = {**inv, "exported": True, "updated-at": "2025-04-02T10:00:00-07:00"}
    later = map_invoice(event(exported), SETTINGS, reference(), NORTHWIND_RECORD)
    assert flag_reason(exported, later, booked) is None  # lands in 2025-04, booked in 2025-03

    changed = invoice([line(1, "300.00"), line(2, "250.00")])
    result = map_invoice(event(changed), SETTINGS, reference(), NORTHWIND_RECORD)
    assert flag_reason(changed, result, booked) == (
        "Coupa invoice NWS-100482 changed in Coupa after it was posted to Deltek voucher V0042: "
        "total 500.00 → 550.00; a person must decide; nothing was reversed"
    )
    voided = {**inv, "status": "voided"}
    result = map_invoice(event(voided), SETTINGS, reference(), NORTHWIND_RECORD)
    assert flag_reason(voided, result, booked) == (
        "Coupa invoice NWS-100482 was voided in Coupa after it was posted to Deltek voucher "
        "V0042; a person must decide; nothing was reversed"
    )
