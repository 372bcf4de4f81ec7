"""The benchmark's report: tables for a person (rich) from the medians ``figures.summarise`` gives.

The same figures, every run's raw windows and the command line go to JSON (``--json``) for
whoever compares two versions later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

# The parts the CPU target sums; the broker is shown beside them.
SUMMED = ("ingest", "mapper", "poster", "postgres")


def _posters(n: str) -> str:
    return f"{n} poster" + ("" if n == "1" else "s")


def _num(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "" if value is None else f"{value:.{digits}f}{unit}"


def throughput_table(summary: Mapping[str, Any], settings: Mapping[str, Any]) -> Table:
    table = Table(
        title=(
            f"{settings['invoices']} approved invoices → all posted "
            "(Deltek 150 ms, Coupa 100 ms a call; Coupa 25 requests/s)"
        ),
        caption=(
            "latency off: the same burst, simulators answering at once; trickle: approved → "
            f"posted at {settings['trickle_rate']:g} approvals/s "
            f"for {settings['trickle_seconds']:g} s"
        ),
    )
    table.add_column("")
    for column in ("invoices/s", "vs naive", "vs 1 poster", "latency off", "trickle p50", "p99"):
        table.add_column(column, justify="right")
    naive = summary["naive"]
    table.add_row("naive script", _num(naive["invoices_per_s"]), "1.00x", "", "", "", "")
    for n, row in summary["posters"].items():
        table.add_row(
            _posters(n),
            _num(row["invoices_per_s"]),
            _num(row["times_naive"], 2, "x"),
            _num(row["times_one_poster"], 2, "x"),
            _num(row["invoices_per_s_latency_off"]),
            _num(row["trickle_p50_s"], 2, " s"),
            _num(row["trickle_p99_s"], 2, " s"),
        )
    return table


def calls_table(summary: Mapping[str, Any]) -> Table:
    columns = {"naive": summary["naive"]["calls_per_invoice"]} | {
        _posters(n): row["calls_per_invoice"] for n, row in summary["posters"].items()
    }
    table = Table(title="API calls per invoice, by endpoint (the burst with latency)")
    table.add_column("endpoint")
    for name in columns:
        table.add_column(name, justify="right")
    endpoints = sorted({endpoint for figures in columns.values() for endpoint in figures})
    for endpoint in endpoints:
        table.add_row(endpoint, *(_num(figures.get(endpoint, 0.0)) for figures in columns.values()))
    for api in ("Coupa", "Deltek"):
        totals = [
            sum(value for name, value in figures.items() if name.startswith(f"{api} "))
            for figures in columns.values()
        ]
        table.add_row(f"[bold]{api}, all[/bold]", *(_num(total) for total in totals))
    return table


def cpu_table(summary: Mapping[str, Any]) -> Table:
    columns = {
        _posters(n): row["cpu_ms_per_invoice_latency_off"] for n, row in summary["posters"].items()
    }
    table = Table(
        title="CPU-ms per invoice: the burst with latency off (naive: its process, with latency)"
    )
    table.add_column("process")
    table.add_column("naive", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    naive = summary["naive"]["cpu_ms_per_invoice"]
    table.add_row("naive script", _num(sum(naive.values()), 1), *("" for _ in columns))
    for part in (*SUMMED, "broker"):
        table.add_row(part, "", *(_num(figures.get(part, 0.0), 1) for figures in columns.values()))
    sums = [sum(figures.get(part, 0.0) for part in SUMMED) for figures in columns.values()]
    table.add_row("[bold]" + " + ".join(SUMMED) + "[/bold]", "", *(_num(s, 1) for s in sums))
    return table


def callouts_table(callouts: Mapping[str, Mapping[str, float]]) -> Table:
    table = Table(title="Call Out answers from ingest")
    for column in ("", "p50", "p99"):
        table.add_column(column, justify="right" if column else "left")
    for label, figures in callouts.items():
        table.add_row(label, _num(figures["p50_ms"], 1, " ms"), _num(figures["p99_ms"], 1, " ms"))
    return table


def show(document: Mapping[str, Any]) -> None:
    """Print every table of ``document`` (what ``--json`` writes), then how it was made."""
    console = Console()
    if not console.is_terminal:  # a log or CI: wide enough that no table wraps
        console = Console(width=120)
    summary, settings = document["medians"], document["settings"]
    console.print(throughput_table(summary, settings))
    console.print(calls_table(summary))
    console.print(cpu_table(summary))
    if document["callouts"]:
        console.print(callouts_table(document["callouts"]))
    console.print(
        f"medians of {settings['runs']} run(s) on {document['machine']['cpus']} CPU(s); "
        f"command: {document['command']}",
        highlight=False,
    )
