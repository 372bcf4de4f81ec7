"""What gets installed is what was locked: every file hash-checked, the build backend pinned, in
``./run`` (and so CI, which runs ``./run test``) and in the image; the locks agree with
pyproject.toml and with each other."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "requirements" / "lock.txt"
RUNTIME = ROOT / "requirements" / "runtime.txt"
PIP = "-m pip install --quiet --disable-pip-version-check"
HASHED = {
    "dev": f"{PIP} --require-hashes -r requirements/lock.txt",
    "runtime": f"{PIP} --require-hashes -r requirements/runtime.txt",
}
PROJECT = f"{PIP} --no-deps --no-build-isolation -e ."

Pin = tuple[str, frozenset[str]]


def locked(path: Path) -> dict[str, Pin]:
    """Name -> (version, hashes) of each requirement; fails on one not pinned or not hashed."""
    pins: dict[str, Pin] = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        fields = line.partition("#")[0].split()
        if not fields:
            continue
        requirement, *options = fields
        name, pinned, version = requirement.partition("==")
        hashes = frozenset(o.removeprefix("--hash=") for o in options if o.startswith("--hash="))
        assert pinned and version, f"{path.name}: {requirement} is not pinned exactly"
        assert hashes, f"{path.name}: {requirement} has no hash"
        pins[canonicalize_name(name)] = (version, hashes)
    return pins


def exact_pins(requirements: list[str]) -> dict[str, str]:
    """Name -> version of pyproject requirements, every one of which must be ``==``."""
    pins: dict[str, str] = {}
    for text in requirements:
        requirement = Requirement(text)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{text} is not pinned exactly"
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


@pytest.mark.parametrize("lock", [FULL, RUNTIME], ids=lambda path: path.name)
def test_every_locked_package_is_pinned_and_hashed(lock):
    assert len(locked(lock)) > 10


def test_the_runtime_lock_is_the_full_lock_minus_the_dev_tools():
    full, runtime = locked(FULL), locked(RUNTIME)
    assert {name: full.get(name) for name in runtime} == runtime
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(runtime)


def test_pyproject_pins_the_build_backend_and_the_locks_hold_every_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    backend = exact_pins(project["build-system"]["requires"])
    runtime = exact_pins(project["project"]["dependencies"])
    dev = exact_pins(project["project"]["optional-dependencies"]["dev"])
    assert "setuptools" in backend
    for lock, wanted in ((RUNTIME, {**backend, **runtime}), (FULL, {**backend, **runtime, **dev})):
        versions = {name: version for name, (version, _) in locked(lock).items()}
        assert {name: versions.get(name) for name in wanted} == wanted, lock.name


def fake_venv(folder: Path) -> tuple[Path, Path]:
    """A venv whose python and connector only log their arguments (python -c still runs)."""
    log = folder / "calls.log"
    (folder / "bin").mkdir(parents=True)
    run_python = f'[ "$1" = -c ] && exec {sys.executable} "$@"\n'
    for name, first in (("python", run_python), ("connector", "")):
        script = folder / "bin" / name
        script.write_text(f'#!/bin/sh\n{first}echo "{name} $*" >> {log}\n')
        script.chmod(0o755)
    return folder, log


def run(tree: Path, venv: Path, log: Path, *args: str) -> list[str]:
    """What ``./run ARGS`` ran, in order, in the fake venv."""
    log.write_text("")
    subprocess.run(
        ["bash", str(tree / "run"), *args],
        env={"PATH": "/usr/bin:/bin", "CONNECTOR_VENV": str(venv)},
        check=True,
        capture_output=True,
    )
    return log.read_text().splitlines()


def test_run_installs_by_hash_then_the_project_alone_and_only_when_the_lock_changes(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "requirements", tree / "requirements")
    for name in ("run", "pyproject.toml"):
        shutil.copy2(ROOT / name, tree / name)
    venv, log = fake_venv(tmp_path / "venv")

    assert run(tree, venv, log, "migrate") == [
        f"python {HASHED['runtime']}",
        f"python {PROJECT}",
        "connector migrate",
    ]
    assert run(tree, venv, log, "migrate") == ["connector migrate"]  # nothing changed: no pip
    assert run(tree, venv, log, "bench", "--quick") == [
        f"python {HASHED['dev']}",
        f"python {PROJECT}",
        "python -m bench --quick",
    ]
    with (tree / "requirements" / "lock.txt").open("a") as lock:
        lock.write("# a changed lock\n")
    assert run(tree, venv, log, "bench")[0] == f"python {HASHED['dev']}"


def test_the_image_installs_by_hash_then_builds_the_project_with_the_locked_backend():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    installs = [line for line in lines if "pip install" in line]
    assert len(installs) == 2, installs
    assert "--require-hashes -r requirements/runtime.txt" in installs[0]
    assert "--no-deps --no-build-isolation ." in installs[1]
