"""docker-compose.yml, checked offline: there is no Docker daemon in CI, so everything a
``docker compose up`` depends on that can be read from the files is read and checked here.

The file must follow the Compose Specification (``compose-spec``, a strict parser); the start
order must be real (health checks, migrations before services); secrets must come only from the
git-ignored env file, whose example must name every variable the containers need; every command
must parse with the ``connector`` parser; Prometheus must scrape the ports the services actually
serve metrics on; the console must find its users file where the env file says and a writable
state folder; and the demo's connection, maps and console user must fit what they are used with.
"""

from __future__ import annotations

import argparse
import random
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast, get_args
from urllib.parse import urlsplit

import compose_spec
import pytest
import yaml
from pydantic import BaseModel, SecretStr

from devstack.sim_setup import GL_CROSSWALK, PHASES, sim_connection
from devstack.supervisor import SIM_CONNECTION, Stack
from services.cli import console_cmd
from services.cli import main as cli
from services.console.settings import ConsoleSettings
from services.console.users import UsersFileError, hash_password, parse_users
from shared.connections.file import load_connections
from shared.mappings_csv import KINDS, parse_csv
from shared.secrets import MasterKey, SecretsError, generate_callout_secret, weakness
from shared.settings import Settings
from simulators.coupa.cli import COUPA_SIM_CALLOUT_SECRET
from simulators.coupa.options import CoupaSimOptions
from simulators.coupa.store import CoupaStore
from simulators.deltek.options import SimOptions
from simulators.deltek.seed import seed
from simulators.deltek.store import Store
from tests.unit.test_production_image import parser_without_harness

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_FILE = "./deploy/compose/connector.env"
DEMO = {"coupa-sim", "deltek-sim", "demo-setup", "demo-approver"}
PIPELINE = set(cli.SERVICE_PORTS)  # ingest, mapper, poster
SCRAPED = PIPELINE | {"console"}  # every service with an admin port
DATABASE, BROKER, KEY = (
    "CONNECTOR_DATABASE_URL",
    "CONNECTOR_KAFKA_BOOTSTRAP",
    "CONNECTOR_MASTER_KEY",
)
USERS_FILE, SESSION_SECRET = "CONNECTOR_CONSOLE__USERS_FILE", "CONNECTOR_CONSOLE__SESSION_SECRET"
USERS_FOLDER = "deploy/compose/console"
IMAGE_USER = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
# What each command cannot start without: unset servers mean the embedded dev stack, which a
# container does not have; the master key wherever stored secrets are opened or sealed.
NEEDS = {
    "migrate": {DATABASE},
    "topics": {DATABASE, BROKER},
    "ingest": {DATABASE, BROKER, KEY},
    "mapper": {DATABASE, BROKER},
    "poster": {DATABASE, BROKER, KEY},
    "connections": {DATABASE, KEY},
    "reference": {DATABASE, KEY},
    "mappings": {DATABASE},
    # Serving: replay publishes, the diagnostics and the go-live preview open credentials.
    "console": {DATABASE, BROKER, KEY, USERS_FILE, SESSION_SECRET},
    "console add-user": set(),  # writes the file its --file names
    "reconcile": {DATABASE, KEY},
}


def env_example() -> dict[str, str]:
    """The variables of the tracked example, as compose reads an env file (KEY=VALUE lines)."""
    lines = (ROOT / f"{ENV_FILE}.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def commands(service: dict[str, Any]) -> list[list[str]]:
    """The command lines a service runs: its command, or each step (and each side of a pipe)
    of an ``sh -c`` chain."""
    command = service.get("command")
    if command is None:
        return []
    if command[:2] == ["sh", "-c"]:
        steps = (line for step in command[2].split("&&") for line in step.split("|"))
        return [shlex.split(line) for line in steps]
    return [command]


def piped_into(service: dict[str, Any], words: list[str]) -> list[str]:
    """The command whose output an ``sh -c`` step pipes into ``connector <words> ...``."""
    for step in service["command"][2].split("&&"):
        source, _, sink = step.partition("|")
        if shlex.split(sink)[1 : 1 + len(words)] == words:
            return shlex.split(source)
    raise AssertionError(f"nothing is piped into connector {shlex.join(words)}")


def connector_commands(name: str) -> list[list[str]]:
    return [line for line in commands(SERVICES[name]) if line[0] == "connector"]


def subcommand(line: list[str]) -> str:
    """``ingest``, ``migrate``, ...; the console's user commands apart from serving it."""
    if line[1] == "console" and line[2:3] in (["add-user"], ["hash-password"]):
        return f"console {line[2]}"
    return line[1]


def runs(name: str) -> set[str]:
    """The ``connector`` subcommands a service runs (``ingest``, ``migrate``, ...)."""
    return {subcommand(line) for line in connector_commands(name)}


def flag(line: list[str], name: str) -> str:
    """The value of ``--name=value`` or ``--name value`` in a command line."""
    for index, word in enumerate(line):
        if word == name:
            return line[index + 1]
        if word.startswith(f"{name}="):
            return word.partition("=")[2]
    raise AssertionError(f"{name} not in {line}")


def parses(parser: argparse.ArgumentParser, line: list[str]) -> None:
    """Fail with the command line when the parser refuses it (it would exit the test run)."""
    try:
        parser.parse_args(line[1:])
    except SystemExit:
        pytest.fail(f"not a valid connector command: {shlex.join(line)}")


# --- the file as a whole ------------------------------------------------------------------


def test_the_file_follows_the_compose_specification():
    compose_spec.PyOptions(apply_merge=True).from_yaml(COMPOSE_TEXT).validate()


def test_the_specification_check_is_strict_enough_to_catch_a_typo():
    typo = COMPOSE_TEXT.replace("condition: service_healthy", "condition: service_healty", 1)
    with pytest.raises(ValueError, match="service_healty"):
        compose_spec.PyOptions(apply_merge=True).from_yaml(typo)


def test_every_service_has_an_image_and_ours_are_built_from_a_stage_of_the_dockerfile():
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "Dockerfile").read_text(), re.M))
    for name, service in SERVICES.items():
        assert service.get("image"), name
        if "build" in service:
            assert service["build"]["context"] == "."
            target = service["build"]["target"]
            assert target in stages, name
            # The demo stage carries the simulators: only the demo profile may run it.
            assert (target == "demo") == (name in DEMO), name
            assert service["image"].endswith(f":{target}"), name


def test_only_the_demo_services_and_the_reconciliation_are_in_a_profile():
    profiled = {name for name, service in SERVICES.items() if "profiles" in service}
    assert profiled == DEMO | {"reconcile"}
    assert all(SERVICES[name]["profiles"] == ["demo"] for name in DEMO)
    assert SERVICES["reconcile"]["profiles"] == ["reconcile"]


# --- start order --------------------------------------------------------------------------


def test_kafka_and_postgres_are_healthy_only_once_they_answer_clients():
    kafka = SERVICES["kafka"]["healthcheck"]["test"]
    assert kafka[0] == "CMD" and kafka[1].endswith("/kafka-broker-api-versions.sh")
    assert flag(kafka, "--bootstrap-server") == "localhost:9092"
    assert "PLAINTEXT://:9092" in SERVICES["kafka"]["environment"]["KAFKA_LISTENERS"]
    postgres = SERVICES["postgres"]["healthcheck"]["test"]
    assert postgres[:2] == ["CMD", "pg_isready"]
    # Over TCP: during initdb the temporary server answers on its socket alone.
    assert flag(postgres, "--host") == "127.0.0.1"


def test_migrations_and_topics_wait_for_healthy_postgres_and_kafka():
    migrate = SERVICES["migrate"]
    assert [line[:2] for line in connector_commands("migrate")] == [
        ["connector", "migrate"],
        ["connector", "topics"],
    ]
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "kafka": {"condition": "service_healthy"},
    }
    assert migrate["restart"] == "no"


def test_everything_that_uses_the_schema_starts_after_migrate_succeeded():
    for name in sorted(PIPELINE | {"console", "reconcile", "demo-setup"}):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name


def test_each_pipeline_service_runs_in_its_own_container_and_two_posters_share_the_work():
    for service in PIPELINE:
        assert runs(service) == {service}
    posters = [name for name in SERVICES if runs(name) == {"poster"}]
    replicas = sum(SERVICES[name].get("deploy", {}).get("replicas", 1) for name in posters)
    assert replicas == 2


# --- exposure and secrets -----------------------------------------------------------------


def published(service: dict[str, Any]) -> list[str | None]:
    """The host address of each published port (None: every address of the host)."""
    addresses: list[str | None] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            addresses.append(port.get("host_ip"))
        else:
            parts = str(port).split(":")
            addresses.append(parts[0] if len(parts) == 3 else None)
    return addresses


def test_every_published_port_is_bound_to_loopback():
    addresses = {name: published(service) for name, service in SERVICES.items()}
    assert any(addresses.values())
    for name, found in addresses.items():
        assert all(address == "127.0.0.1" for address in found), (name, found)


def setting_variables(model: type[BaseModel], prefix: str = "CONNECTOR_") -> dict[str, Any]:
    """Every variable the settings read (nested parts joined by ``__``), with its type."""
    found: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        part = info.annotation
        if isinstance(part, type) and issubclass(part, BaseModel):
            found |= setting_variables(part, f"{variable}__")
        else:
            found[variable] = part
    return found


def secret_variables() -> set[str]:
    """The connector's secret settings (``SecretStr``) as variables, and the other secrets."""
    ours = {
        variable
        for variable, annotation in setting_variables(ConsoleSettings).items()
        if SecretStr in (annotation, *get_args(annotation))
    }
    assert {DATABASE, KEY, SESSION_SECRET} <= ours
    return ours | {"POSTGRES_PASSWORD", COUPA_SIM_CALLOUT_SECRET}


def test_no_secret_is_written_in_the_compose_file():
    secrets = secret_variables()
    for name, service in SERVICES.items():
        for variable in service.get("environment", {}):
            assert variable not in secrets, (name, variable)
            assert not re.search("PASSWORD|SECRET|_KEY", variable), (name, variable)
    # No URL with a password in it, anywhere in the file.
    assert not re.search(r"://[^/\s@:]+:[^/\s@]+@", COMPOSE_TEXT)


def test_the_env_file_is_git_ignored_and_its_example_is_in_the_repository():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ENV_FILE.removeprefix("./") in ignored
    assert (ROOT / f"{ENV_FILE}.example").is_file()


def test_the_env_example_holds_placeholders_that_refuse_to_run():
    """A copy used unfilled stops with a clear message instead of running on published keys."""
    example = env_example()
    paths = {DATABASE, USERS_FILE}
    assert all(v.startswith("CHANGE-ME") for k, v in example.items() if k not in paths)
    with pytest.raises(SecretsError, match="not a valid master key"):
        MasterKey.parse(example[KEY], source=KEY)
    assert weakness(example[COUPA_SIM_CALLOUT_SECRET], verified=True)
    # `connector console` refuses a session secret this short.
    assert len(example[SESSION_SECRET]) < console_cmd.MIN_SECRET_LENGTH


def needs(name: str) -> set[str]:
    needed = set().union(*(NEEDS.get(command, set()) for command in runs(name)))
    if name == "postgres":
        needed.add("POSTGRES_PASSWORD")
    if name == "coupa-sim":
        needed.add(COUPA_SIM_CALLOUT_SECRET)
    return needed


def test_every_container_gets_what_it_needs_from_the_compose_file_or_the_env_file():
    example = env_example()
    # Every subcommand a container runs is in the table above.
    assert set().union(*(runs(name) for name in SERVICES)) - {"sim"} <= set(NEEDS)
    for name, service in SERVICES.items():
        given = set(service.get("environment", {}))
        if service.get("env_file") == [ENV_FILE]:
            given |= set(example)
        assert needs(name) <= given, (name, needs(name) - given)
    # The connector's settings name these variables (prefix CONNECTOR_): none is misspelt.
    settings = set(setting_variables(ConsoleSettings))
    assert {key for key in example if key.startswith("CONNECTOR_")} <= settings


def test_the_database_url_of_the_env_example_fits_the_postgres_service():
    example = env_example()
    url = urlsplit(example["CONNECTOR_DATABASE_URL"])
    postgres = SERVICES["postgres"]["environment"]
    assert url.hostname == "postgres" and url.port == 5432
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path == f"/{postgres['POSTGRES_DB']}"
    assert url.password == example["POSTGRES_PASSWORD"]


# --- commands -----------------------------------------------------------------------------


def test_every_command_is_a_real_connector_command():
    parser = cli.build_parser()
    checked = 0
    for name in SERVICES:
        for line in connector_commands(name):
            parses(parser, line)
            checked += 1
    assert checked >= 10


def test_outside_the_demo_only_commands_of_the_production_image_run(
    monkeypatch: pytest.MonkeyPatch,
):
    parser = parser_without_harness(monkeypatch)
    for name in SERVICES.keys() - DEMO:
        for line in connector_commands(name):
            parses(parser, line)


def test_services_listen_on_every_address_of_their_container():
    """Prometheus and the simulators reach them over the compose network, not loopback."""
    environment = SERVICES["ingest"]["environment"]
    assert environment["CONNECTOR_HTTP_HOST"] == "0.0.0.0"
    assert environment["CONNECTOR_ADMIN_HOST"] == "0.0.0.0"
    for name in ("coupa-sim", "deltek-sim"):
        assert flag(SERVICES[name]["command"], "--host") == "0.0.0.0"


# --- the console and the scheduled reconciliation -----------------------------------------


def test_the_console_is_published_on_its_own_port_and_runs_once():
    (line,) = connector_commands("console")
    port = flag(line, "--port")
    assert SERVICES["console"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert port not in {flag(connector_commands(s)[0], "--port") for s in PIPELINE}
    # The sign-in limiter counts in memory: one console, or the attempts allowed multiply.
    assert SERVICES["console"].get("deploy", {}).get("replicas", 1) == 1


def test_the_console_reads_its_users_from_the_folder_the_env_file_names_read_only():
    users_file = Path(env_example()[USERS_FILE])
    source, mode = mounts("console")[str(users_file.parent)]
    # The folder, so a replaced file (add-user, an editor) is seen, and never writable here.
    assert (source, mode) == (f"./{USERS_FOLDER}", "ro")
    assert (ROOT / source).is_dir()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert f"{USERS_FOLDER}/{users_file.name}" in ignored


def test_the_users_example_refuses_to_start_until_each_placeholder_is_a_hash():
    text = (ROOT / USERS_FOLDER / "users.yaml.example").read_text()
    with pytest.raises(UsersFileError, match="hash-password"):
        parse_users(text)
    assert "connector console hash-password" in text
    filled = parse_users(text.replace("CHANGE-ME", f'"{hash_password("a" * 16)}"'))
    assert filled and all(user.password_hash.startswith("$argon2id$") for user in filled.values())


def test_the_console_writes_previews_to_a_folder_of_the_images_user():
    """The image's root filesystem is root's; the state folder is a tmpfs the user owns."""
    assert IMAGE_USER is not None
    state = SERVICES["console"]["environment"]["CONNECTOR_STATE_DIR"]
    (tmpfs,) = SERVICES["console"]["tmpfs"]
    path, _, options = tmpfs.partition(":")
    assert path == state
    assert {"uid=" + IMAGE_USER[1], "gid=" + IMAGE_USER[2]} <= set(options.split(","))
    # Everything else the console's settings read comes from the shared block and the env file.
    assert SERVICES["console"]["environment"].items() >= SERVICES["ingest"]["environment"].items()


def test_the_reconciliation_runs_every_connection_once_when_asked():
    reconcile = SERVICES["reconcile"]
    assert connector_commands("reconcile") == [["connector", "reconcile", "--all", "--quiet"]]
    # A one-off run (`docker compose run --rm reconcile`, from cron): never restarted.
    assert reconcile["restart"] == "no"
    assert "ports" not in reconcile


# --- files the stack mounts ---------------------------------------------------------------


def mounts(name: str) -> dict[str, tuple[str, str]]:
    """Container path -> (source, mode) of each volume a service mounts (mode "rw" if unsaid);
    a source in the repository starts with ``./``."""
    found = {}
    for volume in SERVICES[name].get("volumes", []):
        source, target, *mode = volume.split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def binds() -> dict[str, str]:
    """Repository path -> container path of every file or folder a service mounts."""
    return {
        source.removeprefix("./"): target
        for name in SERVICES
        for target, (source, _) in mounts(name).items()
        if source.startswith("./")
    }


def test_every_file_the_stack_mounts_is_in_the_repository():
    mounted = binds()
    assert "deploy/prometheus/alerts.yml" in mounted
    assert "deploy/grafana/dashboards" in mounted
    missing = [path for path in mounted if not (ROOT / path).exists()]
    assert not missing


def test_every_named_volume_is_declared():
    named = {
        volume.split(":")[0]
        for service in SERVICES.values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("./", "/"))
    }
    assert named == set(COMPOSE["volumes"])


# --- Prometheus and Grafana ---------------------------------------------------------------


def scrape_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy/compose/prometheus.yml").read_text())
    return loaded


def test_prometheus_scrapes_the_admin_port_of_every_replica_of_every_service():
    jobs = {job["job_name"]: job for job in scrape_config()["scrape_configs"]}
    assert set(jobs) == SCRAPED
    for service in SCRAPED:
        (line,) = connector_commands(service)
        port = int(flag(line, "--port"))
        admin = Settings(http_port=port).admin_listen_port()
        # Docker's DNS answers a service name with one A record per replica.
        assert jobs[service]["dns_sd_configs"] == [{"names": [service], "type": "A", "port": admin}]
        assert "CONNECTOR_ADMIN_PORT" not in SERVICES[service].get("environment", {})


def test_prometheus_loads_the_alert_rules_from_where_they_are_mounted():
    target = binds()["deploy/prometheus/alerts.yml"]
    (pattern,) = scrape_config()["rule_files"]
    assert Path(target).match(pattern)
    assert binds()["deploy/compose/prometheus.yml"] == "/etc/prometheus/prometheus.yml"


def test_promtool_accepts_the_scrape_config_with_the_alert_rules(tmp_path: Path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (tools/system-packages installs it)")
    config = scrape_config()
    config["rule_files"] = [str(ROOT / "deploy/prometheus/alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_gets_prometheus_as_its_data_source_and_the_dashboards_as_files():
    provisioning = ROOT / "deploy/compose/grafana/provisioning"
    for kind in ("datasources", "dashboards"):
        mounted = binds()[f"deploy/compose/grafana/provisioning/{kind}"]
        assert mounted == f"/etc/grafana/provisioning/{kind}"
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards/connector.yml").read_text())[
        "providers"
    ]
    dashboards = binds()["deploy/grafana/dashboards"]
    assert provider["options"]["path"] == dashboards
    home = Path(SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == Path(dashboards)
    assert (ROOT / "deploy/grafana/dashboards" / home.name).is_file()


# --- the demo profile ---------------------------------------------------------------------


def test_the_coupa_simulator_pushes_to_ingest_for_the_demo_connection():
    (line,) = connector_commands("coupa-sim")
    ingest_port = flag(connector_commands("ingest")[0], "--port")
    assert flag(line, "--callout-url") == f"http://ingest:{ingest_port}/coupa/{SIM_CONNECTION}"


def test_demo_setup_stores_the_connection_then_its_reference_data_then_every_map():
    steps = connector_commands("demo-setup")
    assert steps[0][1:3] == ["connections", "apply"]
    assert steps[1][1:] == ["reference", "refresh", SIM_CONNECTION]
    imports = {flag(step, "--kind"): step[-1] for step in steps if step[1] == "mappings"}
    assert [step[1] for step in steps] == ["connections", "reference", *["mappings"] * 3, "console"]
    assert set(imports) == set(KINDS)
    mounted = binds()["deploy/compose/demo"]
    for kind, path in imports.items():
        assert path == f"{mounted}/{kind}.csv"
    assert steps[0][-1] == f"{mounted}/connections.yaml"
    for simulator in ("coupa-sim", "deltek-sim"):
        assert SERVICES["demo-setup"]["depends_on"][simulator] == {"condition": "service_healthy"}


def test_the_approver_approves_new_invoices_in_the_coupa_simulator_once_setup_is_done():
    approver = SERVICES["demo-approver"]
    script = approver["command"][0]
    port = flag(connector_commands("coupa-sim")[0], "--port")
    assert f"http://coupa-sim:{port}/_admin/invoices" in script
    assert '{"status": "approved"}' in script
    assert "$$APPROVE_EVERY" in script and approver["environment"]["APPROVE_EVERY"]
    assert approver["depends_on"]["demo-setup"] == {"condition": "service_completed_successfully"}


def test_demo_setup_adds_the_console_admin_with_the_documented_demo_password():
    setup = SERVICES["demo-setup"]
    (add_user,) = [line for line in connector_commands("demo-setup") if line[1] == "console"]
    assert add_user[2:4] == ["add-user", "admin"] and flag(add_user, "--role") == "admin"
    users_file = flag(add_user, "--file")
    assert users_file == env_example()[USERS_FILE]
    # The console's folder, writable here; the file then goes to the folder's owner, readable.
    assert mounts("demo-setup")[str(Path(users_file).parent)] == (f"./{USERS_FOLDER}", "rw")
    # It alone runs as root, to write there whoever owns the checkout; the rest as the image's.
    assert {name: s["user"] for name, s in SERVICES.items() if "user" in s} == {"demo-setup": "0:0"}
    steps = [shlex.split(step) for step in setup["command"][2].split("&&")]
    assert ["chown", f"--reference={Path(users_file).parent}", users_file] in steps
    assert ["chmod", "0644", users_file] in steps
    echo, password = piped_into(setup, ["console", "add-user"])
    assert echo == "echo" and len(password) >= console_cmd.MIN_PASSWORD_LENGTH
    assert f"password `{password}`" in (ROOT / "README.md").read_text()


def demo_connection() -> Any:
    environ = {COUPA_SIM_CALLOUT_SECRET: generate_callout_secret()}
    (connection,) = load_connections(ROOT / "deploy/compose/demo/connections.yaml", environ)
    return connection


def test_the_demo_connection_is_the_one_connector_dev_makes_but_on_the_compose_network():
    demo = demo_connection()
    assert demo.name == SIM_CONNECTION
    args = SimpleNamespace(coupa_sim_port=8091, deltek_sim_port=8092)
    stack = cast(Stack, SimpleNamespace(args=args, callout_secret=generate_callout_secret()))
    dev = sim_connection(stack)
    moved = {
        "allow_insecure_http": True,
        "coupa": dev.settings.coupa.model_copy(update={"base_url": "http://coupa-sim:8091"}),
        "deltek": dev.settings.deltek.model_copy(update={"base_url": "http://deltek-sim:8092/api"}),
    }
    assert demo.settings == dev.settings.model_copy(update=moved)


def maps(kind: str) -> dict[str, str]:
    rows = parse_csv((ROOT / "deploy/compose/demo" / f"{kind}.csv").read_text())
    return dict(rows)


def seeded_deltek() -> Store:
    options = SimOptions()
    store = Store(rng=random.Random(options.seed.seed))
    seed(store, options)
    return store


def test_the_demo_maps_cover_the_coupa_simulator_and_point_at_usable_deltek_data():
    """The simulators run with their default seeds in the demo; every Coupa supplier, account
    and project of that data set maps to an active vendor, an account and an active,
    chargeable project with the phases invoices use, as ``connector dev`` aligns them."""
    coupa = CoupaStore(CoupaSimOptions())
    deltek = seeded_deltek()
    suppliers = maps("suppliers")
    assert set(suppliers) == {s["number"] for s in coupa.collections["suppliers"].values()}
    active_vendors = {
        firm["Vendor"]
        for firm in deltek.firms.values()
        if firm.get("VendorInd") == "Y" and firm["Status"] == "A"
    }
    assert set(suppliers.values()) <= active_vendors

    assert maps("accounts") == GL_CROSSWALK
    assert set(GL_CROSSWALK.values()) <= set(deltek.accounts)

    projects = maps("projects")
    assert set(projects) == set(coupa.seeder.projects)
    rows = {(p["WBS1"], p["WBS2"].strip(), p["WBS3"].strip()): p for p in deltek.projects}
    for wbs1 in set(projects.values()):
        top = rows[(wbs1, "", "")]
        assert (top["Status"], top["ChargeType"]) == ("A", "R"), wbs1
        for phase in PHASES:
            row = rows[(wbs1, phase, "")]
            assert (row["Status"], row["SubLevel"]) == ("A", "N"), (wbs1, phase)
