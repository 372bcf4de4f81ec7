"""The go-live previews the console ran: one folder per connection under the state folder,
holding what ``connector preview --out`` writes there and ``run.json`` (who started it, when,
and how it ended) beside the command's own output in ``run.log``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

RUN_FILE = "run.json"
LOG_FILE = "run.log"
# What a report folder may serve: the report page and its CSV files, nothing else in it.
SERVED = re.compile(r"[a-z_]+\.(csv|html)")


def folder(state_dir: str, connection: str) -> Path:
    return Path(state_dir) / "preview" / connection


@dataclass(frozen=True)
class PreviewRun:
    connection: str
    by: str
    started_at: datetime
    pid: int
    exit_code: int | None
    finished_at: datetime | None
    log: str
    files: list[str]

    @property
    def running(self) -> bool:
        return self.exit_code is None and _alive(self.pid)

    @property
    def interrupted(self) -> bool:
        """Started, never finished, and its process is gone (the console stopped meanwhile)."""
        return self.exit_code is None and not _alive(self.pid)

    @property
    def summary(self) -> str:
        """The command's last line: ``preview: I invoices would post, ...`` or why it failed."""
        lines = self.log.strip().splitlines()
        return lines[-1] if lines else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_run(path: Path, run: dict[str, Any]) -> None:
    (path / RUN_FILE).write_bytes(orjson.dumps(run))


def read_run(state_dir: str, connection: str) -> PreviewRun | None:
    path = folder(state_dir, connection)
    try:
        run = orjson.loads((path / RUN_FILE).read_bytes())
    except FileNotFoundError:
        return None
    log = path / LOG_FILE
    return PreviewRun(
        connection,
        run["by"],
        datetime.fromisoformat(run["started_at"]),
        run["pid"],
        run.get("exit_code"),
        datetime.fromisoformat(run["finished_at"]) if run.get("finished_at") else None,
        log.read_text(encoding="utf-8", errors="replace") if log.exists() else "",
        sorted(p.name for p in path.iterdir() if SERVED.fullmatch(p.name)),
    )
