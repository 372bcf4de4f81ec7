"""A deterministic, realistic data set for an architecture/engineering firm, from a seed.

Invoices cover the edge cases coupa-api.md §10.7 asks for: credit notes, charges, header- and
line-level tax, split allocations, non-PO lines, amount lines, a second currency, several
remit-tos and every interesting status. Records are built directly in Coupa's JSON form.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from simulators.coupa.invoices import build_invoice
from simulators.coupa.options import SeedSize
from simulators.coupa.records import (
    AP_CLERK,
    CA,
    CAD,
    CENT,
    GL_ACCOUNTS,
    NET30,
    PHASES,
    US,
    USD,
    Dataset,
    Record,
    money,
    stamp,
)

_TRADES = (
    "Survey",
    "Geotechnical",
    "Structural",
    "MEP",
    "Landscape",
    "Reprographics",
    "Drilling",
    "Environmental",
    "Traffic",
    "Acoustics",
    "Lighting",
    "Civil",
    "Testing",
    "Courier",
    "IT",
)
_WORDS = (
    "Northwind",
    "Summit",
    "Cascade",
    "Granite",
    "Harbor",
    "Meridian",
    "Pioneer",
    "Redwood",
    "Sterling",
    "Bluewater",
    "Ironwood",
    "Keystone",
    "Lakeside",
    "Oakridge",
    "Prairie",
    "Silverline",
)
_SUFFIXES = ("LLC", "Inc.", "Group", "Partners", "Ltd.", "Co.")
_CITIES = (("Denver", "CO", "80202"), ("Seattle", "WA", "98101"), ("Austin", "TX", "78701"))
_CA_CITIES = (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1"))
_INVOICE_STATUSES = (
    ("approved", 45),
    ("pending_approval", 15),
    ("voided", 4),
    ("disputed", 3),
    ("on_hold", 3),
    ("draft", 2),
    ("pending_receipt", 3),
)


class Seeder:
    """Builds a Dataset; every random choice goes through one seeded RNG, so output is stable."""

    def __init__(self, seed: int, size: SeedSize, utc_offset_minutes: int) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.tz = timezone(timedelta(minutes=utc_offset_minutes))
        self.base = datetime(2025, 1, 6, 8, 0, tzinfo=self.tz)
        self.data = Dataset()
        self.projects = [str(1001 + n) for n in range(size.projects)]

    def build(self) -> Dataset:
        """Suppliers, then POs against them, then invoices against both."""
        for n in range(self.size.suppliers):
            self.supplier(n)
        for _ in range(self.size.purchase_orders):
            self.purchase_order()
        for _ in range(self.size.invoices):
            self.invoice()
        return self.data

    def moment(self, day_span: int = 300) -> datetime:
        return self.base + timedelta(seconds=self.rng.randrange(day_span * 86400))

    def amount(self, low: int, high: int) -> Decimal:
        return (Decimal(self.rng.randrange(low * 100, high * 100)) / 100).quantize(CENT)

    def supplier(self, n: int) -> Record:
        rng, data = self.rng, self.data
        sid = data.new_id("supplier", 200)
        canadian = n % 12 == 5
        word, trade = rng.choice(_WORDS), _TRADES[n % len(_TRADES)]
        name = f"{word} {trade} {rng.choice(_SUFFIXES)} {sid}"
        city, state, postal = rng.choice(_CA_CITIES if canadian else _CITIES)
        country = CA if canadian else US
        address = {
            "street1": f"{rng.randrange(1, 9999)} {rng.choice(_WORDS)} Ave",
            "street2": None,
            "city": city,
            "state": state,
            "postal-code": postal,
            "country": country,
        }
        remits = [
            {
                "id": data.new_id("remit", 900),
                "remit-to-code": f"R{sid}-{k + 1}",
                "name": f"{word} {trade} - Remit {k + 1}",
                **address,
                "street3": None,
                "street4": None,
                "active": True,
                "vat-number": None,
                "local-tax-number": None,
                "external-src-ref": None,
                "external-src-name": None,
            }
            for k in range(1 if n % 7 else 3)
        ]
        created = self.base - timedelta(days=rng.randrange(30, 900))
        record: Record = {
            "id": sid,
            "created-at": stamp(created),
            "updated-at": stamp(self.moment(120)),
            "name": name,
            "display-name": f"{word} {trade}",
            "number": f"V-{sid:05d}",
            "status": "inactive" if n % 29 == 3 else "active",
            "on-hold": False,
            "buyer-hold": False,
            "one-time-supplier": n % 41 == 7,
            "tax-id": f"{rng.randrange(10, 99)}-{rng.randrange(1000000, 9999999)}",
            "duns": "",
            "account-number": "",
            "website": f"https://{word.lower()}-{trade.lower()}.example",
            "invoice-matching-level": rng.choice(("2-way", "3-way", "none")),
            "payment-method": "invoice",
            "po-method": "email",
            "po-email": f"orders@{word.lower()}.example",
            "po-change-method": "email",
            "payment-term": NET30,
            "shipping-term": None,
            "tax-code": None,
            "commodity": None,
            "primary-contact": {
                "id": data.new_id("contact", 700),
                "email": f"billing@{word.lower()}.example",
                "name-given": rng.choice(("Frank", "Maria", "Ken", "Aisha", "Li")),
                "name-family": rng.choice(("Corta", "Ng", "Okafor", "Smith", "Dubois")),
                "phone-work": {"country-code": "1", "area-code": "303", "number": "5550100"},
            },
            "primary-address": {"id": data.new_id("address", 18000), **address, "active": True},
            "remit-to-addresses": remits,
            "supplier-sites": [],
            "custom-fields": {"vantagepoint-vendor-id": None},
            "currency": CAD if canadian else USD,
            "created-by": AP_CLERK,
            "updated-by": AP_CLERK,
        }
        self.data.suppliers[sid] = record
        return record

    def supplier_ref(self, supplier: Record) -> Record:
        return {k: supplier[k] for k in ("id", "name", "display-name", "number")}

    def random_account(self) -> Record:
        project = self.rng.choice(self.projects)
        return self.data.account(project, self.rng.choice(list(GL_ACCOUNTS)), self.phase())

    def phase(self) -> str:
        return self.rng.choice(list(PHASES))

    def purchase_order(self) -> Record:
        rng, data = self.rng, self.data
        pid = data.new_id("po", 4500)
        supplier = rng.choice(list(data.suppliers.values()))
        created = self.moment(200)
        lines = []
        for k in range(rng.randrange(1, 9)):
            quantity_line = rng.random() < 0.6
            price = self.amount(50, 2000)
            qty = Decimal(rng.randrange(1, 20)) if quantity_line else None
            total = price * qty if qty is not None else price
            lines.append(
                {
                    "id": data.new_id("po_line", 70000),
                    "line-num": str(k + 1),
                    "type": "OrderQuantityLine" if quantity_line else "OrderAmountLine",
                    "description": f"{rng.choice(_TRADES)} services item {k + 1}",
                    "quantity": f"{qty}.0" if qty is not None else None,
                    "price": money(price),
                    "total": money(total),
                    "accounting-total": money(total),
                    "status": "received",
                    "match-type": "3-way" if quantity_line else "2-way",
                    "order-header-id": pid,
                    "order-header-number": str(pid),
                    "uom": {"id": 7, "code": "DAY", "name": "Day"} if quantity_line else None,
                    "currency": supplier["currency"],
                    "account": self.random_account(),
                    "account-allocations": [],
                    "supplier": self.supplier_ref(supplier),
                }
            )
        total = sum((Decimal(line["total"]) for line in lines), Decimal(0))
        record: Record = {
            "id": pid,
            "created-at": stamp(created),
            "updated-at": stamp(created + timedelta(hours=rng.randrange(1, 200))),
            "po-number": str(pid),
            "status": rng.choice(("issued", "issued", "issued", "closed")),
            "version": 1,
            "internal-revision": 1,
            "exported": False,
            "last-exported-at": None,
            "total": money(total),
            "total-with-estimated-tax": money(total),
            "currency": supplier["currency"],
            "supplier": self.supplier_ref(supplier),
            "payment-term": NET30,
            "order-lines": lines,
        }
        data.purchase_orders[pid] = record
        return record

    def invoice(self) -> Record:
        rng, data = self.rng, self.data
        weights = [w for _, w in _INVOICE_STATUSES]
        status = rng.choices([s for s, _ in _INVOICE_STATUSES], weights)[0]
        po = None
        if data.purchase_orders and rng.random() < 0.7:
            po = rng.choice(list(data.purchase_orders.values()))
        supplier_id = po["supplier"]["id"] if po else rng.choice(list(data.suppliers))
        record = build_invoice(self, data.suppliers[supplier_id], po, status, self.moment())
        data.invoices[record["id"]] = record
        return record


def seed_dataset(seed: int, size: SeedSize, utc_offset_minutes: int) -> tuple[Dataset, Seeder]:
    """Build the data set for ``seed``; the Seeder is returned to build more records later."""
    seeder = Seeder(seed, size, utc_offset_minutes)
    return seeder.build(), seeder
