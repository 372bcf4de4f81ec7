"""Writes the Kubernetes PrometheusRule from the plain Prometheus rule file, so one file holds the
alert rules: ``deploy/prometheus/alerts.yml`` is what the compose stack's Prometheus loads and
``promtool test rules`` checks, and the Prometheus Operator needs the same groups wrapped in a
custom resource. ``python -m tools.k8s_rules`` writes it; ``--check`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "base" / "prometheus-rule.yaml"
NAME = "connector-alerts"


class RuleFileError(ValueError):
    """The rule file is not a Prometheus rule file: no list of groups, or a group without rules."""


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (long PromQL, descriptions) as ``|`` blocks, readable in a review."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def prometheus_rule(rule_file_text: str, source: str) -> str:
    """The PrometheusRule manifest carrying the groups of a Prometheus rule file, unchanged."""
    groups = _groups(yaml.safe_load(rule_file_text))
    manifest: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": NAME, "labels": {"app": "connector"}},
        "spec": {"groups": groups},
    }
    header = (
        f"# Generated from {source} by `python -m tools.k8s_rules`: edit that file, not this.\n"
    )
    body = yaml.dump(manifest, Dumper=_BlockDumper, sort_keys=False, width=100)
    return header + body


def _groups(document: object) -> list[Any]:
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list) or not groups:
        raise RuleFileError("no `groups:` list at the top of the rule file")
    for group in groups:
        if not isinstance(group, dict) or "name" not in group or not group.get("rules"):
            raise RuleFileError(f"a group without a name or rules: {group!r:.80}")
    return groups


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.k8s_rules", description=__doc__)
    parser.add_argument("--rules", type=Path, default=RULE_FILE, help="the Prometheus rule file")
    parser.add_argument("--out", type=Path, default=PROMETHEUS_RULE, help="the manifest to write")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the manifest is stale"
    )
    args = parser.parse_args(argv)
    source = _display(args.rules)
    try:
        wanted = prometheus_rule(args.rules.read_text(encoding="utf-8"), source)
    except (OSError, RuleFileError, yaml.YAMLError) as exc:
        print(f"k8s_rules: cannot read {source}: {exc}", file=sys.stderr)
        return 2
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != wanted:
            print(f"k8s_rules: {_display(args.out)} is stale; run python -m tools.k8s_rules")
            return 1
        return 0
    if current != wanted:
        args.out.write_text(wanted, encoding="utf-8")
        print(f"k8s_rules: wrote {_display(args.out)}")
    return 0


def _display(path: Path) -> str:
    """The path relative to the repository when it lies inside, so the header is stable."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
