"""The Kubernetes manifests as ``kubectl apply -k`` would send them, checked offline.

Each tree (the base and both overlays) is rendered with ``kubectl kustomize`` and every object
validated against the Kubernetes schemas (``kubernetes-validate``, strict); the custom resources
(KEDA, Prometheus Operator), which those schemas lack, are checked field by field. Then the
promises the manifests make are checked on what renders, against the code they deploy where the
code decides (the routes of ingest, the group and topic the poster consumes, the partition count,
which commands open secrets, the console's settings), so a patch that breaks one fails here.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

import services.console.pages
from services.console.app import create_app as create_console_app
from services.console.settings import ConsoleSettings
from services.ingest import app as ingest_app
from services.poster import app as poster_app
from shared.endpoints import Endpoints
from shared.kafka.topics import Topics
from shared.settings import Settings
from tests.unit.test_production_image import parser_without_harness
from tools import k8s_rules

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TREES = {"base": K8S / "base", "dev": K8S / "overlays" / "dev", "prod": K8S / "overlays" / "prod"}
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests are meant for, and the newest schemas shipped.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
CUSTOM_KINDS = {"ScaledObject", "PodMonitor", "PrometheusRule"}
PIPELINE = ("ingest", "mapper", "poster")
SERVICES = (*PIPELINE, "console")  # the Deployments: HTTP and admin ports, probes, budgets
MASTER_KEY_SECRET = "connector-master-key"
CONSOLE_SECRET = "connector-console"
# Pods that read Coupa or Deltek (label `service` or `task`): HTTPS out to public addresses.
READ_THE_APIS = {"ingest", "poster", "console", "reconcile"}
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
    return of_kind(objs, "Deployment") + of_kind(objs, "Job") + of_kind(objs, "CronJob")


def template(workload: Obj) -> Obj:
    """The pod template of a Deployment or Job, or of the Jobs a CronJob makes."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    found: Obj = spec["template"]
    return found


def containers(workload: Obj) -> list[Obj]:
    pod = template(workload)["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def config_env(objs: list[Obj]) -> dict[str, str]:
    """The settings every pod shares (kustomize appends a hash of them to the name)."""
    (config,) = [
        c
        for c in of_kind(objs, "ConfigMap")
        if c["metadata"]["name"].startswith("connector-config")
    ]
    data: dict[str, str] = config["data"]
    return data


def settings_of(objs: list[Obj], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a pod gets from the rendered ConfigMap, parsed by the code's own model."""
    for name, value in config_env(objs).items():
        monkeypatch.setenv(name, value)
    return Settings()


def console_settings_of(objs: list[Obj], monkeypatch: pytest.MonkeyPatch) -> ConsoleSettings:
    """What the console reads from both ConfigMaps it is given, parsed as it parses them."""
    (container,) = containers(named(objs, "Deployment", "connector-console"))
    given = {source["configMapRef"]["name"] for source in container["envFrom"]}
    for config in of_kind(objs, "ConfigMap"):
        if config["metadata"]["name"] in given:
            for name, value in config["data"].items():
                monkeypatch.setenv(name, value)
    return ConsoleSettings()


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
    counts = {kind: len(of_kind(objs, kind)) for kind in ("Deployment", "Job", "CronJob")}
    assert counts == {"Deployment": 4, "Job": 2, "CronJob": 1}
    for workload in workloads(objs):
        name, pod = workload["metadata"]["name"], template(workload)["spec"]
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
            # Nothing writes to disk but the console's preview, into a scratch folder.
            volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
            writable = [
                (mount["mountPath"], volumes[mount["name"]])
                for mount in container.get("volumeMounts", [])
                if not mount.get("readOnly")
            ]
            assert all("emptyDir" in volume for _, volume in writable), where
            assert not writable or where == "connector-console/console", where


def test_the_console_writes_only_to_its_state_folder_and_reads_users_from_its_secret(
    monkeypatch: pytest.MonkeyPatch,
):
    objs = render("prod")
    console = named(objs, "Deployment", "connector-console")
    settings = console_settings_of(objs, monkeypatch)
    (container,) = containers(console)
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in template(console)["spec"]["volumes"]}
    state = mounts[settings.state_dir]
    assert not state.get("readOnly") and "emptyDir" in volumes[state["name"]]
    assert volumes[state["name"]]["emptyDir"]["sizeLimit"]
    # The users file is a key of the Secret, in a folder the kubelet refreshes: no subPath,
    # which would pin the file as it was when the pod started.
    assert settings.console.users_file is not None
    users_file = Path(settings.console.users_file)
    users = mounts[str(users_file.parent)]
    assert users["readOnly"] and "subPath" not in users
    secret = volumes[users["name"]]["secret"]
    assert secret["secretName"] == CONSOLE_SECRET
    assert secret["items"] == [{"key": users_file.name, "path": users_file.name}]
    session = {var["name"]: var for var in container["env"]}["CONNECTOR_CONSOLE__SESSION_SECRET"]
    assert session["valueFrom"]["secretKeyRef"]["name"] == CONSOLE_SECRET
    # The console alone reads its Secret.
    readers = {
        workload["metadata"]["name"]
        for workload in workloads(objs)
        for c in containers(workload)
        for name, _ in secret_refs(c, template(workload)["spec"])
        if name == CONSOLE_SECRET
    }
    assert readers == {"connector-console"}


@pytest.mark.parametrize("tree", TREES)
def test_one_console_runs_without_an_autoscaler(tree: str):
    """The sign-in limiter counts wrong passwords in memory: each replica would allow its own."""
    objs = render(tree)
    assert named(objs, "Deployment", "connector-console")["spec"]["replicas"] == 1
    assert "connector-console" not in _autoscalers(objs)


@pytest.mark.parametrize("tree", TREES)
def test_services_are_probed_spread_and_covered_by_a_disruption_budget(tree: str):
    objs = render(tree)
    config = config_env(objs)
    budgets = {pdb["metadata"]["name"]: pdb["spec"] for pdb in of_kind(objs, "PodDisruptionBudget")}
    for service in SERVICES:
        deployment = named(objs, "Deployment", f"connector-{service}")
        pod_labels = template(deployment)["metadata"]["labels"]
        (container,) = template(deployment)["spec"]["containers"]
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
        # One console: 1 lets a node drain move it (console.yaml says why).
        assert budget["maxUnavailable"] == 1
        if service not in PIPELINE:
            continue
        spread = template(deployment)["spec"]["topologySpreadConstraints"]
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
    assert {svc["metadata"]["name"] for svc in services} == {
        "connector-ingest",
        "connector-console",
    }
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
    ingress = named(render(tree), "Ingress", "connector-callouts")
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


def _hosts(ingress: Obj) -> set[str]:
    return {host["host"] for host in ingress["spec"]["rules"]}


@pytest.mark.parametrize("tree", TREES)
def test_the_console_has_an_ingress_of_its_own_on_its_own_tls_host(tree: str):
    objs = render(tree)
    assert {i["metadata"]["name"] for i in of_kind(objs, "Ingress")} == {
        "connector-callouts",
        "connector-console",
    }
    ingress = named(objs, "Ingress", "connector-console")
    console_app = create_console_app(ConsoleSettings(), UNUSED_ENDPOINTS, {}, "s" * 32)
    pages = {
        re.sub(r"\{[^}]+\}", "x", route.resource.canonical if route.resource else "")
        for route in console_app.router.routes()
    }
    assert {"/", "/exceptions", "/sign-in"} <= pages
    assert all(_ingress_admits(ingress, page) for page in pages)
    for host in ingress["spec"]["rules"]:
        for rule in host["http"]["paths"]:
            assert rule["backend"]["service"] == {
                "name": "connector-console",
                "port": {"name": "http"},
            }
    (tls,) = ingress["spec"]["tls"]
    assert _hosts(ingress) <= set(tls["hosts"])
    callouts = named(objs, "Ingress", "connector-callouts")
    assert tls["secretName"] != callouts["spec"]["tls"][0]["secretName"]
    # Coupa's host serves Coupa's routes alone, and the console's none of them.
    assert not _hosts(ingress) & _hosts(callouts)
    service = named(objs, "Service", "connector-console")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


# Names a module that opens stored secrets binds: a service's connections store, the CLI's key
# ring, or the key ring itself (the console's diagnostics).
SECRET_OPENERS = {"use_connections", "key_ring", "KeyRing"}


def _command_modules(command: list[str]) -> list[ModuleType]:
    """The modules that carry out ``connector <command>``: a service's app, the console's pages,
    or the subcommand's own module (``topics`` has none)."""
    name = command[1]
    if name in PIPELINE:
        return [importlib.import_module(f"services.{name}.app")]
    if name == "console":
        pages = pkgutil.iter_modules(services.console.pages.__path__, "services.console.pages.")
        return [importlib.import_module(page.name) for page in pages]
    found = importlib.util.find_spec(f"services.cli.{name}_cmd")
    return [importlib.import_module(found.name)] if found else []


def _opens_secrets(command: list[str]) -> bool:
    """Whether the command opens the sealed connection secrets, which needs the master key."""
    assert command[0] == "connector", command
    return any(SECRET_OPENERS & vars(module).keys() for module in _command_modules(command))


@pytest.mark.parametrize("tree", TREES)
def test_the_master_key_reaches_only_what_opens_secrets(tree: str):
    objs = render(tree)
    assert not of_kind(objs, "Secret"), "Secrets are the operator's; no manifest may carry one"
    holders, openers = set(), set()
    for workload in workloads(objs):
        pod = template(workload)["spec"]
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            if any(name == MASTER_KEY_SECRET for name, _ in secret_refs(container, pod)):
                holders.add(where)
            if _opens_secrets(container["command"]):
                openers.add(where)
            # Settings come from the ConfigMap and secrets from Secrets: no literal in a pod spec.
            assert all("value" not in var for var in container.get("env", [])), container["name"]
    assert holders == openers
    # What that derivation finds today, so that a change to it shows here too.
    (connections_job,) = [h for h in holders if h.startswith("connector-connections")]
    assert connections_job.endswith("/apply")
    assert holders - {connections_job} == {
        "connector-ingest/ingest",
        "connector-poster/poster",
        "connector-console/console",
        "connector-reconcile/reconcile",
    }


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
        for name, optional in secret_refs(container, template(workload)["spec"])
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


@pytest.mark.parametrize("tree", TREES)
def test_every_command_is_one_the_production_image_offers(
    tree: str, monkeypatch: pytest.MonkeyPatch
):
    parser = parser_without_harness(monkeypatch)
    for workload in workloads(render(tree)):
        for container in containers(workload):
            command = container["command"]
            assert command[0] == "connector", command
            try:
                parser.parse_args(command[1:])
            except SystemExit:
                pytest.fail(f"{workload['metadata']['name']}: not a connector command: {command}")


@pytest.mark.parametrize("tree", TREES)
def test_the_reconciliation_runs_every_6_hours_one_run_at_a_time(tree: str):
    objs = render(tree)
    (cron,) = of_kind(objs, "CronJob")
    spec = cron["spec"]
    (container,) = containers(cron)
    assert container["command"] == ["connector", "reconcile", "--all", "--quiet"]
    minute, hour, *every_day = spec["schedule"].split()
    assert minute.isdigit() and hour == "*/6" and every_day == ["*", "*", "*"]
    assert spec["timeZone"] == "Etc/UTC"
    # Two runs at once would read both APIs twice; a late one waits for the next slot.
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] < 6 * 3600
    assert spec["successfulJobsHistoryLimit"] and spec["failedJobsHistoryLimit"]
    assert template(cron)["spec"]["restartPolicy"] == "Never"
    ingest = named(objs, "Deployment", "connector-ingest")
    assert container["image"] == template(ingest)["spec"]["containers"][0]["image"]
    # The database and the keys; no broker (it publishes nothing).
    assert {name for name, _ in secret_refs(container, template(cron)["spec"])} == {
        "connector-backends",
        MASTER_KEY_SECRET,
    }
    assert {var["name"] for var in container["env"]} == {
        "CONNECTOR_DATABASE_URL",
        "CONNECTOR_MASTER_KEY",
        "CONNECTOR_MASTER_KEY_PREVIOUS",
    }


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
    assert ("CronJob", "connector-reconcile") in first
    for job in of_kind(render(tree), "Job") + of_kind(render(tree), "CronJob"):
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


def _label_selector(text: str) -> Obj:
    """A kubectl ``-l`` selector of ``key=value`` and ``key in (a,b)`` terms."""
    selector: Obj = {"matchLabels": {}, "matchExpressions": []}
    for key, value, values in re.findall(r"([\w./-]+)(?:=([^,\s]+)|\s+in\s+\(([^)]*)\))", text):
        if value:
            selector["matchLabels"][key] = value
        else:
            listed = [v.strip() for v in values.split(",")]
            selector["matchExpressions"].append({"key": key, "operator": "In", "values": listed})
    return selector


def test_the_readmes_job_commands_wait_for_and_delete_the_release_jobs_alone():
    """A failed reconciliation run kept for its logs must not hold up the Deploy's wait."""
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"(?:complete|delete)\s+job -l '([^']+)'", readme)
    assert len(found) == 2, found
    objs = render("prod")
    (cron,) = of_kind(objs, "CronJob")
    for text in found:
        selector = _label_selector(text)
        assert all(_selects(selector, job["metadata"]["labels"]) for job in of_kind(objs, "Job"))
        assert not _selects(selector, cron["spec"]["jobTemplate"]["metadata"]["labels"]), text


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
        labels = template(workload)["metadata"]["labels"]
        service = labels.get("service")
        inbound: set[tuple[str, str]] = {("monitoring", "admin")} if service else set()
        if service in ("ingest", "console"):
            inbound.add(("ingress-nginx", "http"))
        reads_apis = {labels.get("service"), labels.get("task")} & READ_THE_APIS
        outbound = backends | ({("internet", "443")} if reads_apis else set())
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
        labels = template(workload)["metadata"]["labels"]
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
