"""AP voucher entry (``DataEntry/apControl``), posting (``PostTransFile``) and the AP ledger.

Validation follows the working minimum in deltek-api.md §3.A. The required-field text uses the
documented form "Please provide a {Field} for table {Table}."; the other refusal texts (unknown
vendor, account, project, closed period, an entered voucher number) are not documented and are
our wording.

Voucher numbers follow the company setting of §3.D: assigned from the tenant's own sequence
(an entered ``Voucher`` is refused), or, where the company requires entry, required and kept.
Ledger rows are stored with the vendor's invoice under ``Invoice`` and answered under the
tenant's column name (``ledger_view``), so that name can change while the simulator runs.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.deltek.options import LedgerInvoiceKey, VoucherNumbers
from simulators.deltek.store import Batch, Record, SimError, Store

CONTROL_REQUIRED = ("Batch",)
MASTER_REQUIRED = (
    "MasterPKey", "Vendor", "Invoice", "InvoiceDate", "TransDate", "LiabCode", "BankCode",
    "PayTerms",
)  # fmt: skip
DETAIL_REQUIRED = ("PKey", "Seq", "Amount")
VOUCHER_ENTRY_REFUSED = (
    "Voucher number entry is not allowed: voucher numbers are assigned automatically "
    "for company {company}."
)
# The columns of a PSALedger/AP row (§3.C); the vendor's invoice is stored under "Invoice".
LEDGER_COLUMNS = (
    "Period", "PostSeq", "Batch", "Company", "TransType", "Vendor", "Voucher", "Invoice", "RefNo",
    "Desc1", "TransDate", "WBS1", "WBS2", "WBS3", "Account", "Amount", "CurrencyCode", "PONumber",
)  # fmt: skip


def _require(record: Record, keys: tuple[str, ...], table: str) -> None:
    for key in keys:
        value = record.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise SimError(400, f"Please provide a {key} for table {table}.")


def _decimal(value: Any, key: str) -> Decimal:
    """Numbers may arrive as JSON numbers or strings (§3.A format notes)."""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SimError(400, f"Invalid value for {key}: {value!r}.") from None


def _date(value: Any, key: str) -> str:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        raise SimError(400, f"Invalid date for {key}: {value!r}.") from None
    return str(value)


def _blank(value: Any) -> bool:
    """An empty WBS2/WBS3 is a single space in Deltek's samples; "" is accepted too (§3.A)."""
    return value is None or not str(value).strip()


def create_batch(
    store: Store, body: Record, *, duplicate: str, vouchers: VoucherNumbers, user: str
) -> Batch:
    """Validate the whole nested body first, so a refusal leaves no partial batch behind."""
    _require(body, CONTROL_REQUIRED, "apControl")
    batch_id = str(body["Batch"])
    existing = store.batches.get(batch_id)
    if existing is not None and duplicate == "reject":
        raise SimError(400, f"Batch {batch_id} already exists.")
    if existing is not None and existing.control["Posted"] == "Y":
        raise SimError(400, f"Batch {batch_id} has been posted.")
    currency = str(body.get("DefaultCurrencyCode") or "USD")
    masters = [_master(store, m, batch_id, currency, vouchers) for m in body.get("apMaster") or []]
    known = {m["MasterPKey"] for m in masters} | (
        {m["MasterPKey"] for m in existing.masters} if existing else set()
    )
    details = [_detail(store, d, batch_id, known) for d in body.get("apDetail") or []]
    control: Record = {
        key: body.get(key)
        for key in (
            "Batch", "Description", "Recurring", "EndDate", "DefaultCurrencyCode", "Total",
            "DefaultLiab", "DefaultBank", "DefaultDate", "Selected", "Posted", "Creator",
            "Period", "Company",
        )
    }  # fmt: skip
    control.update(
        Batch=batch_id,
        DefaultCurrencyCode=currency,
        Recurring=body.get("Recurring") or "N",
        Selected=body.get("Selected") or "N",
        Posted="N",
        Creator=body.get("Creator") or user,
        Period=int(body.get("Period") or 0),
        Company=body.get("Company") or store.company,
        Total=_decimal(body.get("Total") or 0, "Total"),
        apControlDefaultTaxCodes=body.get("apControlDefaultTaxCodes") or [],
    )
    if vouchers == "assigned":  # numbered only once all of it passed, so none is wasted
        for master in masters:
            master["Voucher"] = store.assign_voucher()
    if existing is None:
        existing = store.batches[batch_id] = Batch(control=control)
    existing.masters += masters
    existing.details += details
    return existing


def _master(
    store: Store, raw: Record, batch_id: str, currency: str, vouchers: VoucherNumbers
) -> Record:
    _require(raw, MASTER_REQUIRED, "apMaster")
    if vouchers == "entry_required":
        _require(raw, ("Voucher",), "apMaster")
    elif not _blank(raw.get("Voucher")):
        raise SimError(400, VOUCHER_ENTRY_REFUSED.format(company=store.company))
    firm = store.vendor_firm(str(raw["Vendor"]))
    if firm is None or firm.get("VendorInd") != "Y":
        raise SimError(400, f"Vendor {raw['Vendor']} does not exist.")
    if firm.get("Status") != "A":
        raise SimError(400, f"Vendor {raw['Vendor']} is inactive.")
    code = str(raw.get("CurrencyCode") or currency)
    if code not in store.currencies:
        raise SimError(400, f"Currency Code {code} does not exist.")
    if raw["LiabCode"] not in store.liab_codes:
        raise SimError(400, f"Liability Code {raw['LiabCode']} does not exist.")
    if raw["BankCode"] not in store.bank_codes:
        raise SimError(400, f"Bank Code {raw['BankCode']} does not exist.")
    return {
        **raw,
        "Batch": batch_id,
        "InvoiceDate": _date(raw["InvoiceDate"], "InvoiceDate"),
        "TransDate": _date(raw["TransDate"], "TransDate"),
        "CurrencyCode": code,
        "Address": raw.get("Address") or "<Default>",
        "Status": raw.get("Status") or "A",
        "Posted": "N",
        "Seq": int(raw.get("Seq") or 1),
    }


def _detail(store: Store, raw: Record, batch_id: str, masters: set[str]) -> Record:
    _require(raw, DETAIL_REQUIRED, "apDetail")
    if raw.get("MasterPKey") not in masters:
        raise SimError(400, "Please provide a MasterPKey for table apDetail.")
    if _blank(raw.get("Account")) and _blank(raw.get("WBS1")):
        raise SimError(400, "Please provide a Account for table apDetail.")
    if not _blank(raw.get("Account")):
        account = store.accounts.get(str(raw["Account"]))
        if account is None or account["Status"] != "A":
            raise SimError(400, f"Account {raw['Account']} does not exist.")
    if not _blank(raw.get("WBS1")):
        _check_wbs(store, raw)
    amount = _decimal(raw["Amount"], "Amount")
    return {
        **raw,
        "Batch": batch_id,
        "Seq": int(raw["Seq"]),
        "Amount": amount,
        "NetAmount": _decimal(raw.get("NetAmount", amount), "NetAmount"),
        "SuppressBill": raw.get("SuppressBill") or "N",
    }


def _check_wbs(store: Store, raw: Record) -> None:
    """Walk WBS1 → WBS2 → WBS3: a level with sub-levels needs the next one (§3.A)."""
    levels = [str(raw.get(k) or "") for k in ("WBS1", "WBS2", "WBS3")]
    for depth, name in enumerate(("WBS1", "WBS2", "WBS3"), start=1):
        project = store.project(*levels[:depth])
        if project is None:
            raise SimError(400, f"{name} {levels[depth - 1].strip()} does not exist.")
        if project["Status"] != "A":
            raise SimError(400, f"{name} {levels[depth - 1].strip()} is not active.")
        if project["SubLevel"] != "Y":
            return
        if depth < 3 and _blank(levels[depth]):
            raise SimError(400, f"Please provide a WBS{depth + 1} for table apDetail.")


def post_batches(store: Store, parms: list[Record]) -> Record:
    """Post each requested batch; the result lists are pipe-delimited per batch (§3.A)."""
    results: list[tuple[str, str, str, str, str]] = []
    messages: list[str] = []
    for parm in parms:
        batch_id = str(parm.get("batch") or "")
        period = str(parm.get("period") or "")
        outcome = _post_one(store, batch_id, period, str(parm.get("transtype") or ""))
        seq = str(outcome) if isinstance(outcome, int) else ""
        results.append(("AP", batch_id, "1" if seq else "0", period, seq))
        description = parm.get("description") or batch_id
        messages.append(
            f"AP Vouchers file {description}; 1 of 1 records posted; Posting sequence {seq}"
            if seq
            else f"AP Vouchers file {description}: {outcome}"
        )
    columns = list(zip(*results, strict=True)) if results else [()] * 5
    names = ("typeList", "batchList", "retList", "periodList", "postseqList")
    return {
        **{n: "|".join(c) for n, c in zip(names, columns, strict=True)},
        "msg": "|".join(messages),
    }


def _post_one(store: Store, batch_id: str, period: str, transtype: str) -> int | str:
    """The posting sequence, or the reason nothing was posted."""
    batch = store.batches.get(batch_id)
    if transtype.upper() != "AP":
        return f"transaction type {transtype} is not simulated"
    if batch is None:
        return f"batch {batch_id} not found"
    if batch.control["Posted"] == "Y":
        return "batch already posted"
    if not period.isdigit() or not store.open_period(int(period)):
        return f"period {period} is not open"
    seq = store.next_post_seq
    store.next_post_seq += 1
    batch.control.update(Posted="Y", Period=int(period))
    masters = {m["MasterPKey"]: m for m in batch.masters}
    for master in batch.masters:
        master["Posted"] = "Y"
    for detail in batch.details:
        master = masters[detail["MasterPKey"]]
        store.ledger.append(
            {
                "Period": int(period),
                "PostSeq": seq,
                "Batch": batch_id,
                "Company": batch.control["Company"],
                "TransType": "AP",
                "Vendor": master["Vendor"],
                "Voucher": master["Voucher"],
                "Invoice": master["Invoice"],
                "RefNo": master["Voucher"],
                "Desc1": detail.get("Description") or "",
                "TransDate": master["TransDate"],
                "WBS1": detail.get("WBS1") or " ",
                "WBS2": detail.get("WBS2") or " ",
                "WBS3": detail.get("WBS3") or " ",
                "Account": detail.get("Account") or "",
                "Amount": detail["Amount"],
                "CurrencyCode": master["CurrencyCode"],
                "PONumber": detail.get("PONumber"),
            }
        )
    return seq


def batch_view(batch: Batch, *, nested: bool) -> Record:
    """The apControl record, with its vouchers and lines nested in it when ``nested``."""
    if not nested:
        return dict(batch.control)
    return {**batch.control, "apMaster": batch.masters, "apDetail": batch.details}


def ledger_columns(key: LedgerInvoiceKey) -> frozenset[str]:
    """The columns a ``filterHash`` on PSALedger/AP may name where ``key`` holds the invoice."""
    return frozenset(LEDGER_COLUMNS) - {"Invoice"} | {key}


def ledger_view(rows: list[Record], key: LedgerInvoiceKey) -> list[Record]:
    """Ledger rows with the vendor's invoice under the tenant's column name."""
    if key == "Invoice":
        return rows
    return [{(key if k == "Invoice" else k): v for k, v in row.items()} for row in rows]
