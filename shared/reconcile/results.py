"""The stored results of reconciliations (``reconciliation_runs``, ``reconciliation_totals``;
this module is their only reader and writer): each run with its totals per class and currency
and the findings that are not matches, and the latest run of each period for the gauges."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from shared.db.pool import Connection
from shared.reconcile.model import ClassTotal, Finding, Kind, balances, class_totals

# How far back the gauges look: the scheduled run covers the current and the previous period,
# so a period not reconciled for this long is no longer watched (and its series ends).
GAUGE_LOOKBACK = "40 days"


@dataclass(frozen=True)
class PeriodResult:
    """The latest run of one connection's period."""

    connection: str
    period: int
    closed: bool
    balanced: bool
    finished_at: datetime
    totals: list[ClassTotal]


def _stored(finding: Finding) -> dict[str, Any]:
    values = asdict(finding)
    for name in ("coupa_amount", "deltek_amount"):
        values[name] = None if values[name] is None else str(values[name])
    values["kind"] = finding.kind.value
    return values


async def save_run(
    conn: Connection, connection: str, period: int, *, closed: bool, findings: list[Finding]
) -> int:
    """Store one run; returns its id."""
    async with conn.transaction():
        run_id: int = await conn.fetchval(
            """INSERT INTO reconciliation_runs (connection, period, period_closed, balanced,
                                                findings)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            connection,
            period,
            closed,
            balances(findings),
            [_stored(f) for f in findings if f.kind is not Kind.MATCHED],
        )
        await conn.executemany(
            """INSERT INTO reconciliation_totals (run_id, class, currency, invoices, amount)
               VALUES ($1, $2, $3, $4, $5)""",
            [(run_id, t.kind, t.currency, t.invoices, t.amount) for t in class_totals(findings)],
        )
    return run_id


async def latest_results(conn: Connection) -> list[PeriodResult]:
    """The latest run of every connection's period reconciled within ``GAUGE_LOOKBACK``."""
    rows = await conn.fetch(
        f"""SELECT run.id, run.connection, run.period, run.period_closed, run.balanced,
                   run.finished_at, t.class, t.currency, t.invoices, t.amount
              FROM (SELECT DISTINCT ON (connection, period) *
                      FROM reconciliation_runs
                     WHERE finished_at > now() - interval '{GAUGE_LOOKBACK}'
                     ORDER BY connection, period, finished_at DESC, id DESC) AS run
              JOIN reconciliation_totals t ON t.run_id = run.id
             ORDER BY run.connection, run.period, t.class, t.currency"""  # noqa: S608 - a constant
    )
    results: dict[int, PeriodResult] = {}
    for row in rows:
        result = results.setdefault(
            row["id"],
            PeriodResult(
                row["connection"],
                row["period"],
                row["period_closed"],
                row["balanced"],
                row["finished_at"],
                [],
            ),
        )
        result.totals.append(
            ClassTotal(row["class"], row["currency"], row["invoices"], row["amount"])
        )
    return list(results.values())


async def latest_findings(
    conn: Connection, connection: str, period: int
) -> list[dict[str, Any]] | None:
    """The findings (all but the matches) of the period's latest run, as stored; None when the
    period was never reconciled."""
    stored: list[dict[str, Any]] | None = await conn.fetchval(
        """SELECT findings FROM reconciliation_runs WHERE connection = $1 AND period = $2
            ORDER BY finished_at DESC, id DESC LIMIT 1""",
        connection,
        period,
    )
    return stored
