"""The connector's Grafana dashboard as code, with Grafana's own SDK (grafana-foundation-sdk).

``python -m tools.dashboard`` writes ``deploy/grafana/dashboards/connector.json``, which is
committed so Grafana can provision it without Python; ``--check`` says whether the committed file
is what this code makes (a test runs it too). Every query names only metrics of the catalog,
``docs/metrics.md`` (tested). Gauges counted from Postgres are exported alike by every mapper
replica, so panels take ``max`` over replicas before they add connections up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import BigValueGraphMode

OUTPUT = (
    Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards" / "connector.json"
)
UID = "coupa-deltek-connector"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
CONNECTION = 'connection=~"$connection"'
RATE = "[$__rate_interval]"


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref)


def now(title: str, description: str, expr: str, legend: str, unit: str = "short") -> stat.Panel:
    """A number as it is now, with its recent course drawn behind it."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, legend))
        .unit(unit)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .graph_mode(BigValueGraphMode.AREA)
        .height(5)
        .span(4)
    )


def over_time(
    title: str, description: str, queries: list[prometheus.Dataquery], unit: str = "short"
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .height(8)
        .span(12)
    )
    for target in queries:
        panel = panel.with_target(target)
    return panel


def latency(api: str) -> timeseries.Panel:
    def quantile(q: str, ref: str) -> prometheus.Dataquery:
        buckets = f'connector_api_call_seconds_bucket{{api="{api}", {CONNECTION}}}'
        expr = f"histogram_quantile({q}, sum by (le, endpoint) (rate({buckets}{RATE})))"
        return query(expr, f"p{q[2:].ljust(2, '0')} {{{{endpoint}}}}", ref)

    return over_time(
        f"{api.title()} latency p50 / p99 by endpoint",
        f"How long {api.title()} takes to answer, by endpoint template, every outcome included.",
        [quantile("0.5", "A"), quantile("0.99", "B")],
        unit="s",
    )


def outcomes(api: str) -> timeseries.Panel:
    expr = (
        f'sum by (outcome) (rate(connector_api_call_seconds_count{{api="{api}", {CONNECTION}}}'
        f"{RATE}))"
    )
    return over_time(
        f"{api.title()} calls by outcome",
        "ok, client_error, server_error, rate_limited, unauthorized, network.",
        [query(expr, "{{outcome}}")],
        unit="reqps",
    )


def records(states: str) -> str:
    """Records in ``states`` per connection and state, one value whatever the replicas."""
    return f'max by (connection, state) (connector_records{{state=~"{states}", {CONNECTION}}})'


def build() -> model.Dashboard:
    variables = [
        grafana.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        grafana.QueryVariable("connection")
        .label("Connection")
        .datasource(DATASOURCE)
        .query("label_values(connector_records, connection)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*"),
    ]
    panels: list[grafana.Row | stat.Panel | timeseries.Panel] = [
        grafana.Row("Now"),
        now(
            "Parked / flagged / failed",
            "Records waiting for a map or a person (parked), changed in Coupa after posting "
            "(flagged), or dead-lettered (failed).",
            f"sum by (state) ({records('parked|flagged|failed')})",
            "{{state}}",
        ),
        now(
            "In flight",
            "Records on their way to Deltek without a person: received, mapped, posting.",
            f"sum({records('received|mapped|posting')})",
            "in flight",
        ),
        now(
            "Oldest parked",
            "Since when the oldest parked record waits (alert after 4 hours).",
            f"max(connector_oldest_parked_seconds{{{CONNECTION}}})",
            "oldest parked",
            unit="s",
        ),
        now(
            "Dead letters",
            "Messages set aside on each topic's dead-letter topic, not replayed yet.",
            "max by (topic) (connector_dead_letters)",
            "{{topic}}",
        ),
        now(
            "Last successful poll",
            "Time since every Coupa feed of the connection was last read to its end.",
            "time() - max by (connection) "
            f"(connector_last_successful_poll_timestamp_seconds{{{CONNECTION}}})",
            "{{connection}}",
            unit="s",
        ),
        now(
            "Credentials refused",
            "1 while Coupa or Deltek refuses a connection's credentials.",
            f"max by (api, connection) (connector_api_auth_refused{{{CONNECTION}}})",
            "{{api}} {{connection}}",
        ),
        grafana.Row("Flow"),
        over_time(
            "Invoices posted per second",
            "Vouchers entered in Deltek (created) or found there and completed (already entered).",
            [
                query(
                    "sum by (connection) (rate(connector_poster_jobs_total{outcome=~"
                    f'"created|already_entered", {CONNECTION}}}{RATE}))',
                    "{{connection}}",
                )
            ],
            unit="ops",
        ),
        over_time(
            "Approved in Coupa → posted in Deltek, p99",
            "Parked time included: a record fixed the next morning shows here.",
            [
                query(
                    "histogram_quantile(0.99, sum by (le, connection) (rate("
                    f"connector_approved_to_posted_seconds_bucket{{{CONNECTION}}}{RATE})))",
                    "{{connection}}",
                )
            ],
            unit="s",
        ),
        over_time(
            "Consumer lag per topic",
            "Messages behind the end of each topic, as the consumers see it.",
            [
                query(
                    "sum by (group, topic) "
                    "(max by (group, topic, partition) (connector_consumer_lag))",
                    "{{group}} {{topic}}",
                )
            ],
        ),
        over_time(
            "Messages handled by outcome",
            "ok, retry (a transient failure, tried again), dead_lettered.",
            [
                query(
                    f"sum by (topic, outcome) (rate(connector_messages_total{RATE}))",
                    "{{topic}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
        over_time(
            "Records by state",
            "Every state that is not final, per connection.",
            [
                query(
                    records("received|mapped|posting|parked|failed|flagged"),
                    "{{connection}} {{state}}",
                )
            ],
        ),
        over_time(
            "Adaptive Deltek limit and messages in flight",
            "Calls each poster may have in flight to the tenant now (it halves on 429/5xx and "
            "grows while Deltek answers well), and messages each consumer handles at once.",
            [
                query(
                    f"connector_deltek_calls_in_flight_limit{{{CONNECTION}}}",
                    "limit {{connection}} {{instance}}",
                ),
                query("connector_consumer_in_flight", "in flight {{instance}}", "B"),
            ],
        ),
        grafana.Row("Deltek and Coupa"),
        latency("deltek"),
        outcomes("deltek"),
        latency("coupa"),
        outcomes("coupa"),
    ]
    board = (
        grafana.Dashboard("Coupa → Deltek connector")
        .uid(UID)
        .tags(["connector", "coupa", "deltek"])
        .description("Generated by tools/dashboard.py; edit the code, not this dashboard.")
        .editable()
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
    )
    for variable in variables:
        board = board.with_variable(variable)
    for number, panel in enumerate(panels, start=1):
        panel = panel.id(number)
        board = board.with_row(panel) if isinstance(panel, grafana.Row) else board.with_panel(panel)
    return board.build()


def render() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dashboard", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="only say whether the committed JSON is up to date"
    )
    args = parser.parse_args(argv)
    fresh = render()
    if args.check:
        if OUTPUT.exists() and OUTPUT.read_text() == fresh:
            return 0
        print(f"{OUTPUT} is stale: run python -m tools.dashboard", file=sys.stderr)
        return 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(fresh)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
