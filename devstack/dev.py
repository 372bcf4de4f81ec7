"""``connector dev``: the whole stack on the embedded default, up until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack import supervisor as local
from devstack.flow import FlowWatch
from devstack.ports import PortInUseError
from devstack.sim_setup import prepare_sim_connection
from services.cli.console_cmd import write_private
from services.console.users import Role, UsersFileError, load_users, user_entry, verify_password
from shared.embedded.process import free_port
from shared.secrets import private_file
from shared.settings import Settings

# The one console user ``connector dev`` makes, with a random password kept beside the dev key.
CONSOLE_USER = "admin"
DESCRIPTION = (
    "Run the whole connector on this machine until Ctrl-C: an embedded PostgreSQL and broker, "
    "the Coupa and Deltek simulators with a connection named 'sim' to them, the ingest, mapper "
    "and poster services and the console (http://127.0.0.1:8080), each its own process. Data, "
    "keys and logs are kept in ./.connector; a second run in the same folder goes on with them."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    local.add_arguments(parser)
    parser.add_argument(
        "--console-port",
        type=int,
        default=8080,
        metavar="PORT",
        help="the console's port (default: %(default)s)",
    )
    parser.add_argument(
        "--no-sims", action="store_true", help="do not start the Coupa and Deltek simulators"
    )
    parser.add_argument(
        "--trickle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="approve a new invoice in the Coupa simulator this often, 0 for never "
        "(default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    stack = local.Stack(
        args, Settings(), sims=not args.no_sims, more_ports={"console": "console_port"}
    )
    try:
        stack.check()
    except (local.StackAlreadyRunningError, PortInUseError) as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 2
    stack.install_signal_handlers()
    try:
        stack.start()
        if stack.sims:
            prepare_sim_connection(stack)
        console = start_console(stack, args.console_port)
        print("connector dev is up:\n" + stack.summary(), flush=True)
        print(console.describe() + "\nCtrl-C stops everything.", flush=True)
        assert stack.endpoints is not None
        coupa = stack.child("coupa-sim").url if stack.sims else None
        stack.supervise(FlowWatch(stack.endpoints.database_url, coupa, args.trickle))
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"dev: could not start: {exc}", file=sys.stderr)
        return 1
    except local.StopRequested as reason:
        print(f"dev: {reason}, stopping", flush=True)
    finally:
        stack.shutdown()
        print("dev: stopped", flush=True)
    return 0


@dataclass(frozen=True)
class ConsoleLogin:
    """Where the dev console is and how to sign in to it."""

    url: str
    user: str
    password: str
    password_file: Path

    def describe(self) -> str:
        return (
            f"  console    open {self.url} and sign in as {self.user} with password "
            f"{self.password}\n             (kept in {self.password_file.resolve()})"
        )


def start_console(stack: local.Stack, port: int) -> ConsoleLogin:
    """Run the console beside the stack's services, supervised and stopped with them.

    Its users file and session secret are made under the state folder (mode 0600, as the dev
    key is): one admin with a random password, kept so that it stays the same between runs.
    """
    assert stack.endpoints is not None
    state = Path(stack.settings.state_dir)
    password_file = state / "console-admin.password"
    password = private_file(password_file, lambda: secrets.token_urlsafe(15))
    session_secret = private_file(
        state / "console-session.secret", lambda: secrets.token_urlsafe(48)
    )
    users_file = state / "console-users.yaml"
    _keep_admin(users_file, password)
    env = {
        **os.environ,
        "CONNECTOR_DATABASE_URL": stack.endpoints.database_url,
        "CONNECTOR_KAFKA_BOOTSTRAP": stack.endpoints.kafka_bootstrap,
        # Connection diagnostics and the go-live preview open the stored credentials.
        "CONNECTOR_MASTER_KEY": stack.master_key,
        "CONNECTOR_HTTP_PORT": str(port),
        "CONNECTOR_ADMIN_PORT": str(free_port()),
        "CONNECTOR_CONSOLE__USERS_FILE": str(users_file.resolve()),
        # In the environment, not on the command line, where ps shows it.
        "CONNECTOR_CONSOLE__SESSION_SECRET": session_secret,
        # Plain HTTP on loopback: a browser would not send a Secure cookie back over it.
        "CONNECTOR_CONSOLE__SECURE_COOKIES": "false",
    }
    console = local.Child(
        "console",
        "service",
        port,
        [sys.executable, "-m", "services.cli", "console"],
        env,
        stack.logs / "console.log",
        "/healthz",
        admin_port=int(env["CONNECTOR_ADMIN_PORT"]),
    )
    # Among the children, the supervisor restarts it like the others and stops it with them.
    stack.children.append(console)
    console.start()
    # Private to the supervisor: until it starts the console among its own children.
    stack._wait_healthy(local.HEALTH_TIMEOUT)
    return ConsoleLogin(console.url, CONSOLE_USER, password, password_file)


def _keep_admin(users_file: Path, password: str) -> None:
    """Make the dev users file hold the admin with ``password``; users added to it are kept
    unless the admin no longer signs in with it (then the file starts again with the admin)."""
    try:
        if verify_password(load_users(users_file).get(CONSOLE_USER), password):
            return
    except UsersFileError:
        pass  # none yet, or unreadable: made afresh
    write_private(users_file, user_entry(CONSOLE_USER, Role.ADMIN, password))
