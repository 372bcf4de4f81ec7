"""CPU time spent by each part of the running stack, as the kernel counts it (psutil).

A part is a process tree: a service (all posters together), the embedded Postgres (the
postmaster, its live backends and, through the postmaster's reaped-children times, the backends
that came and went) and the broker. The simulators stand in for the outside world and are left
out. Two readings around a stretch of work give its CPU cost; the benchmark's own Postgres
queries (the settle check every 0.3 s) are in the Postgres figure, a small overstatement.
"""

from __future__ import annotations

import contextlib
import subprocess

import psutil

from devstack.supervisor import Stack


def _tree_seconds(proc: subprocess.Popen[bytes]) -> float:
    try:
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _parts(stack: Stack) -> list[tuple[str, subprocess.Popen[bytes]]]:
    parts = [
        (child.name.partition("-")[0], child.proc)  # poster-2 counts as poster
        for child in stack.children
        if child.kind == "service" and child.proc is not None
    ]
    for name, server in (("postgres", stack.postgres), ("broker", stack.broker)):
        if server is not None and server.proc is not None:
            parts.append((name, server.proc))
    return parts


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) each part of ``stack`` has used so far."""
    used: dict[str, float] = {}
    for name, proc in _parts(stack):
        used[name] = used.get(name, 0.0) + _tree_seconds(proc)
    return used
