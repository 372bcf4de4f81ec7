"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes the local stack with the production
alert rules, Deltek starts refusing the connector's credentials, and the alert fires.

Prometheus runs from a temporary folder on a free loopback port, scraping and evaluating every
second; its rules are ``deploy/prometheus/alerts.yml`` with every ``for:`` cut to 0 s, so the
test waits for a scrape and an evaluation, not for minutes. It is stopped and its folder deleted
whatever happens.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from devstack.driver import approve, create_invoice
from shared.embedded.process import free_port, spawn, stop
from tests.e2e.conftest import Rig, running_rig
from tests.support import eventually

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = "/usr/bin/prometheus"
SERVICES = ("ingest", "mapper", "poster")
# The services read these at start: gauges counted every second, quick retries of waiting jobs.
QUICK = {
    "CONNECTOR_MAPPER__STATE_GAUGES_SECONDS": "1",
    "CONNECTOR_CONSUMER__BACKOFF_MAX_SECONDS": "1",
}


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in QUICK.items():
            patch.setenv(name, value)
        with running_rig() as started:
            yield started


def quick_rules() -> dict[str, Any]:
    """The production rules, each firing as soon as its expression holds."""
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    return rules


@pytest.fixture(scope="module")
def prometheus(rig: Rig) -> Iterator[str]:
    """Prometheus scraping the three services' admin ports; yields its URL."""
    if shutil.which(PROMETHEUS) is None:
        pytest.fail(f"{PROMETHEUS} is missing: run tools/system-packages (Debian: prometheus)")
    folder = Path(tempfile.mkdtemp(prefix="connector-prometheus-"))
    targets = []
    for name in SERVICES:
        url = rig.stack.child(name).metrics_url
        assert url is not None
        targets.append(url.removeprefix("http://").removesuffix("/metrics"))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [{"job_name": "connector", "static_configs": [{"targets": targets}]}],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    (folder / "alerts.yml").write_text(yaml.safe_dump(quick_rules()))
    port = free_port()
    process = spawn(
        [
            PROMETHEUS,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log_path=folder / "prometheus.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, signal.SIGTERM, 10)
        shutil.rmtree(folder, ignore_errors=True)


async def get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        answer.raise_for_status()
        return await answer.json()


async def firing(prometheus: str, alertname: str) -> list[dict[str, str]]:
    """The label sets of ``alertname``'s alerts that fire now."""
    alerts = (await get(f"{prometheus}/api/v1/alerts"))["data"]["alerts"]
    return [
        alert["labels"]
        for alert in alerts
        if alert["labels"]["alertname"] == alertname and alert["state"] == "firing"
    ]


async def scraped(prometheus: str) -> bool:
    try:
        targets = (await get(f"{prometheus}/api/v1/targets"))["data"]["activeTargets"]
    except aiohttp.ClientError:
        return False  # not listening yet
    return len(targets) == len(SERVICES) and all(t["health"] == "up" for t in targets)


async def test_deltek_refusing_our_credentials_fires_its_alert(rig: Rig, prometheus: str) -> None:
    await eventually(lambda: scraped(prometheus), within=60, what="every service scraped")

    async def gauges_counted() -> bool:
        query = "connector_state_gauges_updated_timestamp_seconds"
        found = (await get(f"{prometheus}/api/v1/query?query={query}"))["data"]["result"]
        # The alert fires while they are absent, until an evaluation after the scrape.
        return bool(found) and await firing(prometheus, "ConnectorStateGaugesStale") == []

    await eventually(gauges_counted, within=30, what="the mapper's gauges in Prometheus")
    assert await firing(prometheus, "ConnectorDeltekAuthFailing") == []

    await rig.faults("deltek", unauthorized={"after": 0, "count": 1_000_000})
    async with aiohttp.ClientSession() as http:
        invoice = await create_invoice(http, rig.coupa)
        await approve(http, rig.coupa, invoice["id"])

    async def auth_alert() -> bool:
        return bool(await firing(prometheus, "ConnectorDeltekAuthFailing"))

    await eventually(auth_alert, within=90, what="ConnectorDeltekAuthFailing firing")
    [labels] = await firing(prometheus, "ConnectorDeltekAuthFailing")
    assert labels["severity"] == "critical"
    assert await firing(prometheus, "ConnectorCoupaAuthFailing") == []  # only what broke
