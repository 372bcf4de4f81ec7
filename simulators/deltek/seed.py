"""A realistic, deterministic data set for an architecture/engineering firm's Vantagepoint tenant.

Vendor firms with remit-to addresses and vendor accounting, client firms, a GL chart of accounts,
projects with phases and tasks, twelve-plus periods around "today", USD plus a second currency,
and a few posted AP files so ledger searches have something to skip.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from simulators.deltek.entry import create_batch, post_batches
from simulators.deltek.options import SimOptions
from simulators.deltek.store import Record, Store

_VENDOR_WORDS = (
    "Summit Survey", "Keystone Geotech", "Blueprint Reprographics", "Cascade Drilling",
    "Meridian Structural", "Apex CAD", "Granite Testing Labs", "Northwind Courier",
    "Harbor Environmental", "Pioneer Traffic Counts", "Sterling Office", "Beacon MEP",
    "Redwood Landscape", "Ironclad Safety", "Clearview Imaging", "Atlas Soils",
    "Lakeside Printing", "Copperline Electrical", "Vector GIS", "Bluestone Acoustics",
)  # fmt: skip
_VENDOR_SUFFIXES = ("LLC", "Inc.", "Co.", "Group", "Partners", "Ltd.")
_CLIENT_NAMES = (
    "City of Riverside", "Westfield School District", "Mercy Health System", "State DOT Region 4",
    "Harborview Port Authority", "Oakridge University", "Pinecrest County", "Lumen Biotech",
)  # fmt: skip
_PROJECT_WORDS = (
    "Library Renovation", "Bridge Inspection", "Water Treatment Upgrade", "Campus Master Plan",
    "Clinic Expansion", "Transit Center", "Stormwater Study", "Fire Station 7",
    "Terminal Retrofit", "Science Building", "Wastewater Outfall", "Parking Structure",
)  # fmt: skip
_PHASES = (("100", "Schematic Design"), ("200", "Design Development"),
           ("300", "Construction Documents"), ("400", "Construction Administration"))  # fmt: skip
_TASKS = (("01", "Survey"), ("02", "Geotechnical"), ("03", "Permitting"))
_CITIES = (("Denver", "CO", "802"), ("Austin", "TX", "787"), ("Portland", "OR", "972"),
           ("Raleigh", "NC", "276"), ("Columbus", "OH", "432"))  # fmt: skip
# Vantagepoint's closed set (deltek-api.md §3.D), described the way a firm labels them.
_PAY_TERMS = (("Date", "Net 30 days"), ("Date", "Net 45 days"), ("Next", "Next check run"),
              ("PWP", "Pay when paid"))  # fmt: skip
# (account, name, type): 1 asset, 2 liability, 4 revenue, 5 reimbursable, 7 direct, 9 indirect.
_ACCOUNTS = (
    ("111.00", "Cash - Operating", 1), ("121.00", "Accounts Receivable", 1),
    ("151.00", "Prepaid Expenses", 1), ("171.00", "Furniture and Equipment", 1),
    ("211.00", "Accounts Payable - Trade", 2), ("212.00", "Accounts Payable - Subconsultants", 2),
    ("221.00", "Accrued Payroll", 2), ("401.00", "Fee Revenue", 4),
    ("411.00", "Reimbursable Revenue", 4), ("511.00", "Reimbursable Travel", 5),
    ("512.00", "Reimbursable Printing", 5), ("513.00", "Reimbursable Survey", 5),
    ("521.00", "Reimbursable Equipment Rental", 5), ("522.00", "Reimbursable Testing Labs", 5),
    ("531.00", "Reimbursable Subconsultants", 5), ("601.00", "Direct Subconsultants", 7),
    ("602.00", "Direct Printing", 7), ("603.00", "Direct Travel", 7),
    ("641.00", "Office Supplies", 9), ("642.00", "Field Supplies", 9),
    ("651.00", "Software Subscriptions", 9), ("652.00", "Computer Equipment", 9),
    ("661.00", "Rent", 9), ("662.00", "Utilities", 9), ("671.00", "Professional Dues", 9),
    ("672.00", "Training", 9), ("681.00", "Insurance", 9), ("691.00", "Marketing", 9),
    ("699.00", "Miscellaneous Overhead", 9), ("999.00", "Retired Account", 9),
)  # fmt: skip


def seed(store: Store, options: SimOptions) -> None:
    """Fill an empty store; every random choice comes from the store's seeded generator."""
    rng = store.rng
    store.currencies |= {"USD", "CAD"}
    store.countries |= {"United States", "Canada", "United Kingdom", "Mexico", "Germany"}
    store.liab_codes |= {"Trade", "Subcontract"}
    _banks(store)
    _accounts(store)
    clients = [_client_firm(store, name) for name in _CLIENT_NAMES]
    with_firm = options.vendor_accounting == "with_firm"
    for n in range(options.seed.vendors):
        _vendor_firm(store, rng, n, accounting_with_vendor=with_firm)
    _projects(store, rng, clients, options.seed.projects)
    _periods(store, options.seed.today or date.today())
    _history(store, rng, options)


def _accounts(store: Store) -> None:
    for account, name, kind in _ACCOUNTS:
        store.accounts[account] = {
            "Account": account,
            "Name": name,
            "Type": kind,
            "Status": "I" if account == "999.00" else "A",
            "Detail": "1",
            "CashBasisAccount": None,
            "GlobalAccount": "N",
            "AccountCurrencyCode": "USD",
        }


def _banks(store: Store) -> None:
    """The operating account vouchers are paid from (the demo connection's ``OPER``) and a
    second one, so a check must find the right code rather than any."""
    for code, description in (("OPER", "Operating Account"), ("PAYROLL", "Payroll Account")):
        store.bank_codes[code] = {
            "Code": code,
            "Description": description,
            "Company": store.company,
            "Org": "01:HQ",
            "Account": "111.00",
        }


def _client_firm(store: Store, name: str) -> Record:
    return store.create_firm(
        {"Name": name, "ClientInd": "Y", "VendorInd": "N", "Status": "A", "Type": "Client"},
        allow_override=True,
        user="SEED",
        accounting_with_vendor=False,  # not a vendor
    )


def _vendor_firm(store: Store, rng: random.Random, n: int, *, accounting_with_vendor: bool) -> None:
    name = f"{_VENDOR_WORDS[n % len(_VENDOR_WORDS)]} {_VENDOR_SUFFIXES[rng.randrange(6)]}"
    if n >= len(_VENDOR_WORDS):
        name = f"{name} #{n // len(_VENDOR_WORDS) + 1}"
    canadian = rng.random() < 0.1
    city, state, zip3 = ("Toronto", "ON", "M5V") if canadian else rng.choice(_CITIES)
    terms, terms_desc = rng.choice(_PAY_TERMS)
    firm = store.create_firm(
        {
            "Name": name,
            "VendorInd": "Y",
            "ClientInd": "N",
            "Status": "I" if rng.random() < 0.05 else "A",
            "Type": "Vendor",
            "FedID": f"{rng.randrange(10, 99)}-{rng.randrange(1_000_000, 9_999_999)}",
            "TypeOfTIN": "EIN",
            "PrimaryCity": city,
            "PrimaryState": state,
            "PrimaryCountry": "Canada" if canadian else "United States",
            "ReadyForProcessing": "Y",
        },
        allow_override=True,
        user="SEED",
        accounting_with_vendor=accounting_with_vendor,
    )
    store.add_address(
        firm["ClientID"],
        {
            "Address": "Remit",
            "PrimaryInd": "true",
            "Payment": "true",
            "Billing": "N",
            "Address1": f"PO Box {rng.randrange(100, 9999)}",
            "City": city,
            "State": state,
            "Zip": f"{zip3}{rng.randrange(10, 99)}" if not canadian else "M5V 2T6",
            "Country": "Canada" if canadian else "United States",
        },
    )
    if rng.random() < 0.9:
        values = {
            "PayTerms": terms,
            "PayTermsDesc": terms_desc,
            "Req1099": "Y" if rng.random() < 0.3 else "N",
            "DiscPct": Decimal("0.00"),
            "DiscPeriod": 0,
            "ThisYear1099": Decimal("0.00"),
            "LastYear1099": Decimal("0.00"),
            "CheckPerVoucher": "N",
            "MemoPrintOnCheck": "N",
            "EFTAddenda": "N",
            "EFTRemittance": "N",
            "EFTClieOp": "N",
        }
        # Through the firm, which updates the row the firm may already have (§2.1, §3.D).
        store.update_firm(
            firm["ClientID"], {"VEAccounting": [values]}, "SEED", accounting_with_vendor=False
        )


def _projects(store: Store, rng: random.Random, clients: list[Record], count: int) -> None:
    def row(wbs: tuple[str, str, str], name: str, sub: bool, **extra: object) -> Record:
        return {
            "WBS1": wbs[0], "WBS2": wbs[1], "WBS3": wbs[2],
            "WBSNumber": ".".join(p for p in wbs if p.strip()),
            "Name": name, "SubLevel": "Y" if sub else "N", **extra,
        }  # fmt: skip

    for n in range(count):
        wbs1 = f"{2023 + n % 3}{n + 1:03d}.00"
        overhead = n % 10 == 9
        charge = "H" if overhead else ("P" if n % 10 == 8 else "R")
        status = "I" if n % 13 == 12 else "A"
        fee = Decimal(rng.randrange(50_000, 2_500_000)).quantize(Decimal("0.01"))
        common = {"ChargeType": charge, "Status": status, "Org": "01:HQ", "ClientID": None}
        if not overhead:
            common["ClientID"] = clients[n % len(clients)]["ClientID"]
        phases = [] if overhead else _PHASES[: rng.randrange(2, 5)]
        name = "Overhead - Administration" if overhead else rng.choice(_PROJECT_WORDS)
        store.projects.append(
            row(
                (wbs1, " ", " "),
                name,
                bool(phases),
                Fee=fee,
                ProjMgr="E0012",
                Principal="E0003",
                **common,
            )
        )
        for code, phase in phases:
            tasks = _TASKS if code == "100" and n % 4 == 0 else ()
            store.projects.append(
                row((wbs1, code, " "), phase, bool(tasks), Fee=_cents(fee / 4), **common)
            )
            for task, task_name in tasks:
                store.projects.append(
                    row((wbs1, code, task), task_name, False, Fee=_cents(fee / 12), **common)
                )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _periods(store: Store, today: date) -> None:
    """Fourteen monthly periods ending next month; the current one and its two before are open."""
    first = date(today.year - 1, today.month, 1)
    for i in range(14):
        year, month = divmod(first.month - 1 + i, 12)
        start = date(first.year + year, month + 1, 1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        store.periods.append(
            {
                "Period": start.year * 100 + start.month,
                "AccountPdStart": start.strftime("%Y-%m-%dT00:00:00.000"),
                "AccountPdEnd": end.strftime("%Y-%m-%dT00:00:00.000"),
                "Closed": "N" if i >= 10 else "Y",
            }
        )


def _history(store: Store, rng: random.Random, options: SimOptions) -> None:
    """Posted AP files from the open periods, entered and posted through the same rules."""
    vendors = [f for f in store.firms.values() if f["VendorInd"] == "Y" and f["Status"] == "A"]
    open_periods = [p for p in store.periods if p["Closed"] == "N"]
    accounts = [a for a in store.accounts if a.startswith("64")]
    for n in range(min(12, len(vendors))):
        vendor, period = rng.choice(vendors), rng.choice(open_periods)
        key, batch = store.new_key(), f"SEED-{n + 1:04d}"
        amount = Decimal(rng.randrange(5_000, 500_000)) / 100
        day = period["AccountPdStart"]
        master = {
            "MasterPKey": key, "Vendor": vendor["Vendor"], "Invoice": f"INV-{1000 + n}",
            "InvoiceDate": day, "TransDate": day, "LiabCode": "Trade", "BankCode": "OPER",
            "PayTerms": "Next",
        }  # fmt: skip
        if options.voucher_numbers == "entry_required":
            master["Voucher"] = f"S{n + 1:05d}"
        create_batch(
            store,
            {
                "Batch": batch, "Period": period["Period"], "Total": amount, "apMaster": [master],
                "apDetail": [{
                    "MasterPKey": key, "PKey": store.new_key(), "Seq": 1, "Amount": amount,
                    "Account": rng.choice(accounts), "Description": "Seeded history",
                }],
            },
            duplicate="append",
            vouchers=options.voucher_numbers,
            user="SEED",
        )  # fmt: skip
        post_batches(store, [{"batch": batch, "period": str(period["Period"]), "transtype": "AP"}])
