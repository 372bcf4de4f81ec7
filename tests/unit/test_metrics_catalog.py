"""The metrics catalog (docs/metrics.md) lists exactly what the services' registries export."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.ingest.app import create_app as ingest_app
from services.mapper.app import create_app as mapper_app
from services.poster.app import create_app as poster_app
from shared.endpoints import Endpoints
from shared.service.app import METRICS
from shared.settings import Settings

CATALOG = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
SERVICES = ("ingest", "mapper", "poster")
_ROW = re.compile(r"^\| `(connector_[a-z_]+)` \| (\w+) \| [^|]* \| ([a-z, ]+) \|")
# The suffix PromQL adds to a family's name, by type.
_EXPOSED_SUFFIX = {"counter": "_total", "info": "_info"}
RULES = CATALOG.parents[1] / "deploy" / "prometheus" / "alerts.yml"
# What a PromQL expression names besides metrics: functions, aggregations, operators, keywords.
PROMQL_WORDS = frozenset({
    "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "delta", "deriv",
    "histogram_quantile", "time", "absent", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "offset", "bool",
})  # fmt: skip
_HISTOGRAM_SERIES = re.compile(r"_(bucket|count|sum)$")


def catalog() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric name -> (type, services) from the catalog's table."""
    found = {}
    for line in CATALOG.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, kind, where = match.groups()
            services = SERVICES if where == "all" else tuple(s.strip() for s in where.split(","))
            found[name] = (kind, frozenset(services))
    return found


def names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads, histogram series named by their histogram."""
    bare = re.sub(r'"[^"]*"', "", expr)  # label values and strings
    bare = re.sub(r"\{[^}]*\}", "", bare)  # label matchers
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)  # label lists
    bare = re.sub(r"\[[^]]*\]", "", bare)  # ranges
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)) - PROMQL_WORDS
    histograms = {name for name, (kind, _) in catalog().items() if kind == "histogram"}
    return {
        base if (base := _HISTOGRAM_SERIES.sub("", word)) in histograms else word for word in words
    }


def exported() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric name -> (type, services) from the registries of the apps as they are built."""
    endpoints = Endpoints("postgresql://unused/db", "127.0.0.1:9")
    builders = {"ingest": ingest_app, "mapper": mapper_app, "poster": poster_app}
    seen: dict[str, tuple[str, set[str]]] = {}
    for service, build in builders.items():
        app: web.Application = build(Settings(master_key=None), endpoints)
        registry: CollectorRegistry = app[METRICS].registry
        for family in registry.collect():
            name = family.name + _EXPOSED_SUFFIX.get(family.type, "")
            seen.setdefault(name, (family.type, set()))[1].add(service)
    return {name: (kind, frozenset(where)) for name, (kind, where) in seen.items()}


def test_the_catalog_lists_every_exported_metric_and_nothing_else() -> None:
    listed, actual = catalog(), exported()
    assert sorted(set(actual) - set(listed)) == [], "exported but not in docs/metrics.md"
    assert sorted(set(listed) - set(actual)) == [], "in docs/metrics.md but not exported"


def test_the_catalog_gives_each_metric_its_type_and_services() -> None:
    listed, actual = catalog(), exported()
    wrong = {
        name: (listed.get(name), kind) for name, kind in actual.items() if listed.get(name) != kind
    }
    assert wrong == {}


def test_alert_rules_read_only_catalogued_metrics() -> None:
    rules = yaml.safe_load(RULES.read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    named = set().union(*(names_in(expr) for expr in exprs))
    assert named - set(catalog()) == set()
    assert {"connector_records", "connector_api_auth_refused"} <= named  # the parse finds them


def test_names_in_sees_through_label_lists_ranges_and_histogram_series() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, endpoint) (rate(connector_api_call_seconds_bucket"
        '{api="deltek"}[5m]))) unless on (connection) up'
    )
    assert names_in(expr) == {"connector_api_call_seconds", "up"}
