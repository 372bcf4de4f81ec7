"""Child processes that cannot outlive the process that started them.

Each child runs in its own session (so Ctrl-C reaches only the supervisor, which then stops
things in order) and, on Linux, asks the kernel to signal it when its parent dies
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of ``connector dev`` leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypedDict

_PR_SET_PDEATHSIG = 1


def _death_signal_hook(sig: signal.Signals) -> Callable[[], None]:
    """Return a pre-exec hook that arms the parent-death signal (runs after any uid change)."""

    def arm() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(sig))
            # The parent may have died between fork and prctl: then nobody will signal us.
            if os.getppid() == 1:
                os.kill(os.getpid(), int(sig))

    return arm


class UserSwitch(TypedDict, total=False):
    user: str
    group: int
    extra_groups: list[int]


def as_user(user: str | None) -> UserSwitch:
    """Popen arguments that run a child as ``user`` with that user's group and no others.

    Switching the uid alone would keep root's groups, and a root-group directory without group
    permissions would then deny the child even where "others" may enter.
    """
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    death_signal: signal.Signals = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, output to ``log_path`` (or inherited), tied to our life."""
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(  # noqa: S603 - argv is built by us, never from input
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            **as_user(user),
            start_new_session=True,
            preexec_fn=_death_signal_hook(death_signal),
        )
    finally:
        if log:
            log.close()


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> int:
    """Send ``sig``, wait up to ``timeout`` seconds, then kill; return the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a port nobody listens on (tests start many stacks side by side)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    """Block until something accepts TCP connections on ``host:port``, or fail clearly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
