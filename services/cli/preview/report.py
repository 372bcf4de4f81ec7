"""Writing a preview for people: CSV files for a spreadsheet and one self-contained HTML page.

Every value comes from Coupa or Deltek, so the HTML is rendered with autoescaping and the CSV
cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) are
prefixed with a quote (OWASP's advice on CSV injection): a report must never run what a
supplier typed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from services.cli.preview.plan import Plan

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FILES = ("invoices.csv", "voucher_lines.csv", "vendors.csv", "vendor_changes.csv", "report.html")


def safe_cell(value: object) -> str:
    """A value as CSV text that a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    # Negative amounts ("-120.00") are numbers, not formulas; keep them readable as such.
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([safe_cell(value) for value in row] for row in rows)


def write_report(plan: Plan, out: Path, *, connection: str, since: datetime) -> list[Path]:
    """The CSV files and the HTML page in ``out`` (created if needed); their paths."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(
        out / "invoices.csv",
        ("coupa_id", "invoice_number", "supplier", "verdict", "vendor", "invoice_date", "period",
         "currency", "total", "pay_terms", "pay_date", "deltek_batch", "deltek_voucher",
         "reasons"),
        (
            (i.coupa_id, i.invoice_number, i.supplier, i.verdict,
             i.command.vendor if i.command else "",
             i.command.invoice_date if i.command else "", i.command.period if i.command else "",
             i.command.currency if i.command else "", i.command.total if i.command else "",
             i.command.pay_terms if i.command else "", i.command.pay_date if i.command else "",
             i.in_deltek.batch if i.in_deltek else "", i.in_deltek.voucher if i.in_deltek else "",
             "; ".join(i.reasons))
            for i in plan.invoices
        ),
    )  # fmt: skip
    _write_csv(
        out / "voucher_lines.csv",
        ("invoice_number", "seq", "description", "account", "wbs1", "wbs2", "wbs3", "amount",
         "po_number", "source"),
        (
            (i.invoice_number, line.seq, line.description, line.account, line.wbs1, line.wbs2,
             line.wbs3, line.amount, line.po_number, line.source)
            for i in plan.invoices
            if i.verdict == "post" and i.command is not None
            for line in i.command.lines
        ),
    )  # fmt: skip
    _write_csv(
        out / "vendors.csv",
        ("coupa_id", "supplier", "verdict", "deltek_firm", "changes", "reasons"),
        (
            (v.coupa_id, v.supplier, v.verdict, v.firm, len(v.changes), "; ".join(v.reasons))
            for v in plan.vendors
        ),
    )
    _write_csv(
        out / "vendor_changes.csv",
        ("coupa_id", "supplier", "part", "field", "in_deltek", "from_coupa"),
        (
            (v.coupa_id, v.supplier, c.part, c.name, c.in_deltek, c.from_coupa)
            for v in plan.vendors
            for c in v.changes
        ),
    )
    env = Environment(
        loader=PackageLoader("services.cli.preview"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = env.get_template("report.html").render(
        plan=plan, connection=connection, since=since, made=datetime.now().astimezone()
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    return [out / name for name in FILES]
