"""The ports of ``connector dev``'s parts: their flags, and a check that each is free before
anything starts."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Mapping

from shared.endpoints import DEFAULT_BROKER_PORT, DEFAULT_POSTGRES_PORT

# Each part whose port a flag sets, with the flag's dest: "--ingest-port" sets ``ingest_port``.
PORT_FLAGS = {
    "ingest": "ingest_port",
    "mapper": "mapper_port",
    "poster": "poster_port",
    "coupa-sim": "coupa_sim_port",
    "deltek-sim": "deltek_sim_port",
    "postgres": "postgres_port",
    "broker": "broker_port",
}
_DEFAULT_PORTS = {
    "ingest": 8081,
    "mapper": 8082,
    "poster": 8083,
    "coupa-sim": 8091,
    "deltek-sim": 8092,
    "postgres": DEFAULT_POSTGRES_PORT,
    "broker": DEFAULT_BROKER_PORT,
}
_PORT_HELP = {
    "ingest": "the ingest service's port, where Coupa's Call Outs arrive",
    "mapper": "the mapper service's port",
    "poster": "the poster service's port",
    "coupa-sim": "the Coupa simulator's port",
    "deltek-sim": "the Deltek simulator's port",
    "postgres": "the embedded PostgreSQL's port; unused with CONNECTOR_DATABASE_URL",
    "broker": "the embedded broker's port; unused with CONNECTOR_KAFKA_BOOTSTRAP",
}


def add_arguments(parser: argparse.ArgumentParser, *, free_ports: bool = False) -> None:
    """A ``--<part>-port`` flag for each part, with what it is and its default: ``dev``'s fixed
    port, or None with ``free_ports`` (throwaway stacks pick a free one)."""
    for part, dest in PORT_FLAGS.items():
        parser.add_argument(
            "--" + dest.replace("_", "-"),
            type=int,
            default=None if free_ports else _DEFAULT_PORTS[part],
            metavar="PORT",
            help=_PORT_HELP[part]
            + (" (default: a free one)" if free_ports else " (default: %(default)s)"),
        )


class PortInUseError(RuntimeError):
    """A port the stack is told to use is taken: found before anything starts."""


def ensure_free(args: argparse.Namespace, parts: Mapping[str, str]) -> None:
    """Fail with the part, the port and the flag to change it, for the first port taken.

    Checked up front because a child that cannot bind only exits, and its reason would be in
    its log, behind the supervisor's "could not start".
    """
    for part, dest in parts.items():
        port = int(getattr(args, dest))
        if not port_is_free(port):
            flag = "--" + dest.replace("_", "-")
            raise PortInUseError(f"port {port} ({part}) is in use; choose another with {flag}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound now; SO_REUSEADDR as the servers set it, so a port left in
    TIME_WAIT by the last run counts as free, as it is for them."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
