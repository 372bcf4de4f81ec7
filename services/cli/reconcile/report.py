"""The reconciliation as people read it: a ``rich`` table of what does not match, the totals per
class, one summary line; and every finding as CSV for a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from services.cli.reconcile.run import Reconciliation
from shared.reconcile.model import Kind, balances, class_totals


def _period_name(period: int) -> str:
    return f"{period // 100}-{period % 100:02d}"


def show(result: Reconciliation, console: Console) -> None:
    """Findings that need a person first, then totals, then ``reconcile: ...`` on one line."""
    title = f"{result.connection} {_period_name(result.period)}"
    open_items = [f for f in result.findings if f.kind is not Kind.MATCHED]
    if open_items:
        items = Table(title=f"{title}: what does not match", title_justify="left", box=box.SIMPLE)
        items.add_column("class", no_wrap=True)
        items.add_column("invoice", no_wrap=True)
        items.add_column("vendor", max_width=18)
        items.add_column("coupa", justify="right", no_wrap=True)
        items.add_column("deltek", justify="right", no_wrap=True)
        items.add_column("voucher", max_width=22)
        items.add_column("why")
        for f in open_items:
            items.add_row(
                f.kind.value,
                f.invoice_number,
                f.vendor,
                _money(f.coupa_amount),
                _money(f.deltek_amount),
                "\n".join(f.vouchers),
                f.detail,
            )
        console.print(items)
    sums = Table(title=f"{title}: totals per class", title_justify="left", box=box.SIMPLE)
    sums.add_column("class")
    sums.add_column("invoices", justify="right")
    sums.add_column("amount", justify="right")
    for total in class_totals(result.findings):
        amount = f"{total.amount:,.2f} {total.currency}".rstrip() if total.invoices else "0"
        sums.add_row(total.kind, str(total.invoices), amount)
    console.print(sums)
    state = "closed" if result.closed else "open"
    if not balances(result.findings):
        verdict = f"{len(open_items)} to look at"
    elif open_items:  # vouchers keyed by hand only: listed, yet the period balances
        verdict = f"balances ({len(open_items)} not from Coupa)"
    else:
        verdict = "balances"
    console.print(
        f"reconcile: {result.connection} {_period_name(result.period)} ({state}): "
        f"{len(result.findings)} invoices, {verdict}",
        highlight=False,
    )


def _money(amount: object) -> str:
    return "" if amount is None else f"{amount:,.2f}"


CSV_COLUMNS = (
    "class", "coupa_id", "invoice_number", "vendor", "coupa_amount", "deltek_amount", "currency",
    "vouchers", "connector_state", "detail",
)  # fmt: skip


def write_csv(result: Reconciliation, path: Path) -> None:
    """Every finding, matches included, amounts exact as stored."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for f in result.findings:
            writer.writerow(
                (
                    f.kind.value, f.coupa_id or "", f.invoice_number, f.vendor,
                    "" if f.coupa_amount is None else f.coupa_amount,
                    "" if f.deltek_amount is None else f.deltek_amount,
                    f.currency or "", "; ".join(f.vouchers), f.connector_state or "", f.detail,
                )
            )  # fmt: skip
