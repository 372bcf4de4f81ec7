"""The committed Grafana dashboard is what tools/dashboard.py makes, and asks only for metrics
the services export (docs/metrics.md), in PromQL that Prometheus' own parser accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_metrics_catalog import catalog, names_in
from tools import dashboard

# Grafana's variables stand for a range and a regex; Prometheus needs real ones to parse.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$connection": ".*"}


def queries() -> dict[str, str]:
    """Panel title (or variable name) -> each PromQL it runs."""
    board = json.loads(dashboard.render())
    found = {}
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            found[f"{panel['title']} {target['refId']}"] = target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            # Grafana's label_values(SERIES, LABEL): the series part is PromQL.
            series = re.fullmatch(r"label_values\((.+), *\w+\)", variable["query"])
            assert series is not None, variable["query"]
            found[variable["name"]] = series.group(1)
    return found


def test_the_committed_json_is_what_the_code_makes() -> None:
    committed = dashboard.OUTPUT.read_text()
    assert committed == dashboard.render(), "stale: run python -m tools.dashboard"
    assert dashboard.main(["--check"]) == 0


def test_every_query_names_only_catalogued_metrics() -> None:
    listed = set(catalog())
    strangers = {title: names_in(expr) - listed for title, expr in queries().items()}
    assert {title: names for title, names in strangers.items() if names} == {}


def test_the_panels_an_operator_asks_for_first_are_there() -> None:
    named = set().union(*(names_in(expr) for expr in queries().values()))
    assert named >= {
        "connector_poster_jobs_total",
        "connector_records",
        "connector_oldest_parked_seconds",
        "connector_dead_letters",
        "connector_consumer_lag",
        "connector_api_call_seconds",
        "connector_approved_to_posted_seconds",
        "connector_last_successful_poll_timestamp_seconds",
        "connector_deltek_calls_in_flight_limit",
    }


def test_every_panel_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run tools/system-packages")
    rules: list[dict[str, Any]] = []
    for n, expr in enumerate(queries().values()):
        for variable, value in _GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
