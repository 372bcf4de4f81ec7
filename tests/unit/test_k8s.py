"""The Kubernetes manifests as ``kubectl apply -k`` would send them, checked offline.

Each tree (the base and both overlays) is rendered with ``kubectl kustomize`` and every object
validated against the Kubernetes schemas (``kubernetes-validate``, strict); the custom resources
(KEDA, Prometheus Operator), which those schemas lack, are checked field by field. Then the
promises the manifests make are checked on what renders, against the code they deploy where the
code decides (the routes of ingest, the group and topic the poster consumes, the partition count,
which services open secrets), so a patch that breaks one fails here.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from services.ingest import app as ingest_app
from services.poster import app as poster_app
from shared.endpoints import Endpoints
from shared.kafka.topics import Topics
from shared.settings import Settings
from tools import k8s_rules

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TREES = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests are meant for, and the newest schemas shipped.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
CUSTOM_KINDS = {"ScaledObject", "PodMonitor", "PrometheusRule"}
SERVICES = ("ingest", "mapper", "poster")
MASTER_KEY_SECRET = "connector-master-key"
IMAGE_USER = 10001  # the Dockerfile's numeric user and group
UNUSED_ENDPOINTS = Endpoints("postgresql://unused/connector", "unused:9092")

Obj = dict[str, Any]


@cache
def _rendered(tree: str) -> tuple[Obj, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (tools/system-packages installs the Debian package)")
    done = subprocess.run(
        [kubectl, "kustomize", str(TREES[tree])], capture_output=True, text=True, check=False
    )
    if done.returncode:
        pytest.fail(f"kubectl kustomize {TREES[tree].relative_to(ROOT)} failed:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def render(tree: str) -> list[Obj]:
    return list(_rendered(tree))


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objs if obj["kind"] == kind]


def named(objs: list[Obj], kind: str, name: str) -> Obj:
    (found,) = [obj for obj in of_kind(objs, kind) if obj["metadata"]["name"] == name]
    return found


def workloads(objs: list[Obj]) -> list[Obj]:
    return of_kind(objs, "Deployment") + of_kind(objs, "Job")


def containers(workload: Obj) -> list[Obj]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def config_env(objs: list[Obj]) -> dict[str, str]:
    (config,) = of_kind(objs, "ConfigMap")
    assert config["metadata"]["name"].startswith("connector-config")
    data: dict[str, str] = config["data"]
    return data


def settings_of(objs: list[Obj], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a pod gets from the rendered ConfigMap, parsed by the code's own model."""
    for name, value in config_env(objs).items():
        monkeypatch.setenv(name, value)
    return Settings()


def secret_refs(container: Obj, pod: Obj) -> Iterator[tuple[str, bool]]:
    """Each Secret a container reads, with whether the reference is optional."""
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            yield ref["name"], ref.get("optional", False)
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            yield source["secretRef"]["name"], source["secretRef"].get("optional", False)
    mounted = {mount["name"] for mount in container.get("volumeMounts", [])}
    for volume in pod.get("volumes", []):
        if "secret" in volume and volume["name"] in mounted:
            yield volume["secret"]["secretName"], volume["secret"].get("optional", False)


@pytest.mark.parametrize("tree", TREES)
def test_every_object_validates_against_the_kubernetes_schemas(tree: str):
    objs = render(tree)
    assert {"Deployment", "Job", "NetworkPolicy", "Ingress"} <= {obj["kind"] for obj in objs}
    for obj in objs:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(part) for part in exc.path)
                pytest.fail(
                    f"{tree}: {obj['kind']}/{obj['metadata']['name']} {path}: {exc.message}"
                )


@pytest.mark.parametrize("tree", TREES)
def test_every_namespaced_object_lands_in_the_namespace(tree: str):
    for obj in render(tree):
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "coupa-deltek", obj["metadata"]["name"]


@pytest.mark.parametrize("tree", TREES)
def test_every_workload_runs_locked_down(tree: str):
    objs = render(tree)
    assert len(of_kind(objs, "Deployment")) == 3 and len(of_kind(objs, "Job")) == 2
    for workload in workloads(objs):
        name, pod = workload["metadata"]["name"], workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": IMAGE_USER,
            "runAsGroup": IMAGE_USER,
            "fsGroup": IMAGE_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, name
        for container in containers(workload):
            where = f"{name}/{container['name']}"
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, where
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            # Nothing writes to disk, so nothing needs a writable volume.
            assert all(mount.get("readOnly") for mount in container.get("volumeMounts", [])), where


@pytest.mark.parametrize("tree", TREES)
def test_services_are_probed_spread_and_covered_by_a_disruption_budget(tree: str):
    objs = render(tree)
    config = config_env(objs)
    budgets = {pdb["metadata"]["name"]: pdb["spec"] for pdb in of_kind(objs, "PodDisruptionBudget")}
    for service in SERVICES:
        deployment = named(objs, "Deployment", f"connector-{service}")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["connector", service]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        # The ports the service is told to listen on are the ports the probes and scrapes use.
        assert ports == {
            "http": int(config["CONNECTOR_HTTP_PORT"]),
            "admin": int(config["CONNECTOR_ADMIN_PORT"]),
        }
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        budget = budgets[f"connector-{service}"]
        assert budget["selector"]["matchLabels"] == pod_labels
        assert budget["maxUnavailable"] == 1
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        assert all(c["labelSelector"]["matchLabels"] == pod_labels for c in spread)


@pytest.mark.parametrize("tree", TREES)
def test_no_service_exposes_the_admin_port(tree: str):
    objs = render(tree)
    admin = int(config_env(objs)["CONNECTOR_ADMIN_PORT"])
    services = of_kind(objs, "Service")
    assert [svc["metadata"]["name"] for svc in services] == ["connector-ingest"]
    for svc in services:
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] not in ("admin", admin) and port["port"] != admin


def _admits(rule_path: str, path_type: str, path: str) -> bool:
    """Whether an Ingress path matches a request path, as the Ingress API defines the types."""
    if path_type == "Exact":
        return path == rule_path
    assert path_type == "Prefix", "ImplementationSpecific paths mean what the controller says"
    want = [part for part in rule_path.split("/") if part]
    return [part for part in path.split("/") if part][: len(want)] == want


def _ingress_admits(ingress: Obj, path: str) -> bool:
    return any(
        _admits(rule["path"], rule["pathType"], path)
        for host in ingress["spec"]["rules"]
        for rule in host["http"]["paths"]
    )


@pytest.mark.parametrize("tree", TREES)
def test_the_ingress_exposes_the_callouts_and_token_endpoint_only(tree: str):
    (ingress,) = of_kind(render(tree), "Ingress")
    routes = ingest_app.create_app(Settings(), UNUSED_ENDPOINTS).router.routes()
    exposed = {"/metrics": False}
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "acme", route.resource.canonical if route.resource else "")
        # Coupa's way in is what the Call Out module serves; health, readiness and the rest stay in.
        exposed[path] = route.handler.__module__ == "services.ingest.callouts"
    assert {"/coupa/acme/invoices", "/coupa/acme/suppliers", "/oauth2/token"} <= {
        path for path, public in exposed.items() if public
    }
    assert {path: _ingress_admits(ingress, path) for path in exposed} == exposed
    for host in ingress["spec"]["rules"]:
        for rule in host["http"]["paths"]:
            assert rule["backend"]["service"] == {
                "name": "connector-ingest",
                "port": {"name": "http"},
            }
    (tls,) = ingress["spec"]["tls"]
    assert {host["host"] for host in ingress["spec"]["rules"]} <= set(tls["hosts"])
    assert tls["secretName"]


def _opens_secrets(service: str) -> bool:
    """Whether the service reads the encrypted connections store, which needs the master key."""
    return hasattr(importlib.import_module(f"services.{service}.app"), "use_connections")


@pytest.mark.parametrize("tree", TREES)
def test_the_master_key_reaches_only_what_opens_secrets(tree: str):
    objs = render(tree)
    assert not of_kind(objs, "Secret"), "Secrets are the operator's; no manifest may carry one"
    holders = set()
    for workload in workloads(objs):
        pod = workload["spec"]["template"]["spec"]
        for container in containers(workload):
            if any(name == MASTER_KEY_SECRET for name, _ in secret_refs(container, pod)):
                holders.add(f"{workload['metadata']['name']}/{container['name']}")
            # Settings come from the ConfigMap and secrets from Secrets: no literal in a pod spec.
            assert all("value" not in var for var in container.get("env", [])), container["name"]
    expected = {f"connector-{s}/{s}" for s in SERVICES if _opens_secrets(s)}
    (connections_job,) = [h for h in holders if h.startswith("connector-connections")]
    assert holders == expected | {connections_job}
    assert connections_job.endswith("/apply")


def test_the_secret_example_names_every_secret_the_pods_require():
    example = {
        doc["metadata"]["name"]
        for doc in yaml.safe_load_all((K8S / "secret.example.yaml").read_text())
    }
    objs = render("prod")
    required = {
        name
        for workload in workloads(objs)
        for container in containers(workload)
        for name, optional in secret_refs(container, workload["spec"]["template"]["spec"])
        if not optional
    }
    assert required == example
    for tree in TREES.values():
        kustomization = yaml.safe_load((tree / "kustomization.yaml").read_text())
        assert not any("secret" in path for path in kustomization["resources"])


def _autoscalers(objs: list[Obj]) -> dict[str, list[Obj]]:
    """Autoscalers by the Deployment they scale (a ScaledObject makes an HPA of its own)."""
    found: dict[str, list[Obj]] = {}
    for scaler in of_kind(objs, "HorizontalPodAutoscaler") + of_kind(objs, "ScaledObject"):
        found.setdefault(scaler["spec"]["scaleTargetRef"]["name"], []).append(scaler)
    return found


@pytest.mark.parametrize(
    ("tree", "poster_kind"), [("dev", "HorizontalPodAutoscaler"), ("prod", "ScaledObject")]
)
def test_each_autoscaled_deployment_has_exactly_one_autoscaler(tree: str, poster_kind: str):
    objs = render(tree)
    scalers = _autoscalers(objs)
    assert {target: [s["kind"] for s in found] for target, found in scalers.items()} == {
        "connector-ingest": ["HorizontalPodAutoscaler"],
        "connector-poster": [poster_kind],
    }
    for target in scalers:
        # A replica count in the manifest would undo the autoscaler's on every apply.
        assert "replicas" not in named(objs, "Deployment", target)["spec"]
    assert "connector-poster" not in _autoscalers(render("base"))


@pytest.mark.parametrize("tree", OVERLAYS)
def test_posters_scale_up_to_the_partition_count(tree: str, monkeypatch: pytest.MonkeyPatch):
    objs = render(tree)
    partitions = settings_of(objs, monkeypatch).kafka.partitions
    (scaler,) = _autoscalers(objs)["connector-poster"]
    spec = scaler["spec"]
    low, high = (
        spec.get("minReplicaCount", spec.get("minReplicas")),
        spec.get("maxReplicaCount", spec.get("maxReplicas")),
    )
    assert high == partitions
    assert 1 <= low <= high


def test_the_keda_trigger_watches_the_group_and_topic_the_poster_consumes(
    monkeypatch: pytest.MonkeyPatch,
):
    objs = render("prod")
    settings = settings_of(objs, monkeypatch)
    consumed: dict[str, Any] = {}

    def record(app: object, *, group: str, topics: Any, handler: object) -> None:
        consumed.update(group=group, topics=topics(Topics(settings.kafka.topic_prefix)))

    monkeypatch.setattr(poster_app, "add_consumer", record)
    poster_app.create_app(settings, UNUSED_ENDPOINTS)

    (scaler,) = of_kind(objs, "ScaledObject")
    assert scaler["apiVersion"] == "keda.sh/v1alpha1"
    target = named(objs, "Deployment", scaler["spec"]["scaleTargetRef"]["name"])
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert [meta["topic"]] == consumed["topics"]
    assert meta["consumerGroup"] == consumed["group"]
    assert int(meta["lagThreshold"]) > 0
    # KEDA reads the brokers from the named variable of the target's container.
    (container,) = target["spec"]["template"]["spec"]["containers"]
    assert container["name"] == scaler["spec"]["scaleTargetRef"]["envSourceContainerName"]
    assert meta["bootstrapServersFromEnv"] in {var["name"] for var in container["env"]}


@pytest.mark.parametrize("tree", OVERLAYS)
def test_every_release_gets_its_own_jobs(tree: str):
    objs = render(tree)
    image = named(objs, "Deployment", "connector-ingest")["spec"]["template"]["spec"]
    tag = image["containers"][0]["image"].rpartition(":")[2]
    jobs = {job["metadata"]["name"]: job for job in of_kind(objs, "Job")}
    assert set(jobs) == {f"connector-migrate-{tag}", f"connector-connections-{tag}"}
    for job in jobs.values():
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        assert {c["image"] for c in containers(job)} == {image["containers"][0]["image"]}
    migrate = jobs[f"connector-migrate-{tag}"]
    assert [c["command"] for c in containers(migrate)] == [
        ["connector", "migrate"],
        ["connector", "topics"],
    ]
    apply = jobs[f"connector-connections-{tag}"]
    (init,) = apply["spec"]["template"]["spec"]["initContainers"]
    assert init["command"] == ["connector", "migrate"]
    (main,) = apply["spec"]["template"]["spec"]["containers"]
    mount = main["volumeMounts"][0]["mountPath"]
    assert main["command"] == ["connector", "connections", "apply", f"{mount}/connections.yaml"]
    (volume,) = apply["spec"]["template"]["spec"]["volumes"]
    assert volume["secret"]["secretName"] == "connector-connections"


@pytest.mark.parametrize("tree", OVERLAYS)
def test_an_upgrade_can_apply_the_config_and_jobs_before_the_services(tree: str):
    """The README's first upgrade step, ``kubectl apply -k ... -l 'app=connector,!service'``."""
    first = {
        (obj["kind"], obj["metadata"]["name"])
        for obj in render(tree)
        if obj["metadata"].get("labels", {}).get("app") == "connector"
        and "service" not in obj["metadata"]["labels"]
    }
    kinds = {kind for kind, _ in first}
    assert {"ConfigMap", "Job"} <= kinds
    assert not kinds & {"Deployment", "HorizontalPodAutoscaler", "ScaledObject", "Service"}
    for job in of_kind(render(tree), "Job"):
        for container in containers(job):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in first


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _peer_name(peer: Obj) -> str:
    """A namespace by its name label, the internet for an address block."""
    if "ipBlock" in peer:
        return "internet"
    namespace: str = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    return namespace


def _allowed(objs: list[Obj], labels: dict[str, str], direction: str) -> set[tuple[str, str]]:
    """(peer, port) pairs the policies let in or out of a pod; peer "*" means anywhere."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    allowed = set()
    for policy in of_kind(objs, "NetworkPolicy"):
        spec = policy["spec"]
        if direction not in spec["policyTypes"] or not _selects(spec["podSelector"], labels):
            continue
        for rule in spec.get(key, []):
            peers = [_peer_name(peer) for peer in rule.get(peers_key, [])] or ["*"]
            allowed |= {(peer, str(port["port"])) for peer in peers for port in rule["ports"]}
    return allowed


@pytest.mark.parametrize("tree", TREES)
def test_network_policies_deny_all_but_what_each_pod_needs(tree: str):
    objs = render(tree)
    (deny,) = [p for p in of_kind(objs, "NetworkPolicy") if p["spec"]["podSelector"] == {}]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny["spec"].get("ingress") and not deny["spec"].get("egress")
    backends = {("kube-system", "53"), ("*", "5432"), ("*", "9092")}
    for workload in workloads(objs):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        service = labels.get("service")
        inbound: set[tuple[str, str]] = {("monitoring", "admin")} if service else set()
        if service == "ingest":
            inbound.add(("ingress-nginx", "http"))
        outbound = backends | ({("internet", "443")} if service in ("ingest", "poster") else set())
        assert _allowed(objs, labels, "Ingress") == inbound, workload["metadata"]["name"]
        assert _allowed(objs, labels, "Egress") == outbound, workload["metadata"]["name"]


@pytest.mark.parametrize("tree", TREES)
def test_the_pod_monitor_scrapes_the_admin_port_of_every_service(tree: str):
    objs = render(tree)
    (monitor,) = of_kind(objs, "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {"port": "admin", "path": "/metrics", "interval": "30s"}
    for workload in workloads(objs):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"] for c in containers(workload) for p in c.get("ports", [])}
        scraped = _selects(monitor["spec"]["selector"], labels)
        assert scraped == (workload["kind"] == "Deployment"), workload["metadata"]["name"]
        assert not scraped or "admin" in ports
        assert not scraped or monitor["spec"]["jobLabel"] in labels


@pytest.mark.parametrize("tree", TREES)
def test_the_prometheus_rule_is_a_rule_file_promtool_accepts(tree: str, tmp_path: Path):
    (rule,) = of_kind(render(tree), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert groups and all(group["name"] and group["rules"] for group in groups)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (tools/system-packages installs it)")
    rule_file = tmp_path / "rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": groups}))
    done = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


RULES = """\
groups:
  - name: connector
    rules:
      - alert: PosterStalled
        expr: |
          sum(rate(connector_messages_total{topic="deltek.writes"}[10m])) == 0
          and sum(connector_consumer_lag) > 0
        for: 15m
        labels: {severity: page}
        annotations: {summary: "Posters handle nothing while work waits"}
"""


def test_the_generator_wraps_the_rule_groups_unchanged(tmp_path: Path):
    rules, out = tmp_path / "alerts.yml", tmp_path / "prometheus-rule.yaml"
    rules.write_text(RULES)
    assert k8s_rules.main(["--rules", str(rules), "--out", str(out), "--check"]) == 1
    assert k8s_rules.main(["--rules", str(rules), "--out", str(out)]) == 0
    assert k8s_rules.main(["--rules", str(rules), "--out", str(out), "--check"]) == 0
    text = out.read_text()
    assert text.startswith("# Generated from ")
    manifest = yaml.safe_load(text)
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES)["groups"]
    assert "expr: |" in text  # multi-line PromQL stays readable

    rules.write_text(RULES.replace("15m", "30m"))
    assert k8s_rules.main(["--rules", str(rules), "--out", str(out), "--check"]) == 1


@pytest.mark.parametrize("text", ["{}", "groups: []", "groups:\n  - name: empty\n    rules: []\n"])
def test_the_generator_refuses_what_is_not_a_rule_file(text: str):
    with pytest.raises(k8s_rules.RuleFileError):
        k8s_rules.prometheus_rule(text, "alerts.yml")


def test_the_committed_prometheus_rule_is_generated_from_the_alert_rules():
    assert k8s_rules.RULE_FILE.exists(), f"{k8s_rules.RULE_FILE} is missing"
    assert k8s_rules.main(["--check"]) == 0, "run python -m tools.k8s_rules"
