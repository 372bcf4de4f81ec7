"""``connector console``: serve the operator console; ``hash-password`` and ``add-user`` make the
users file's entries, so no plain password is ever written down.

The console does not start without a users file (``CONNECTOR_CONSOLE__USERS_FILE``) and a
session secret (``CONNECTOR_CONSOLE__SESSION_SECRET``); ``connector dev`` makes both for itself.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from services.cli.serving import serve
from services.console.app import create_app
from services.console.settings import ConsoleSettings
from services.console.users import (
    Role,
    UsersFile,
    UsersFileError,
    hash_password,
    parse_users,
)
from shared.endpoints import StackNotFoundError, resolve_endpoints
from shared.logs import configure_logging

# A session secret shorter than this is refused: it signs every cookie.
MIN_SECRET_LENGTH = 32
MIN_PASSWORD_LENGTH = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 8080)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser(
        "hash-password",
        help="print the argon2 hash of a password read from the terminal (or one line of stdin)",
    )
    add = actions.add_parser("add-user", help="add a user to the users file, or change one")
    add.add_argument("name", help="the user's sign-in name")
    add.add_argument("--role", required=True, choices=("viewer", "operator", "admin"))
    add.add_argument(
        "--file", type=Path, help="the users file (default: CONNECTOR_CONSOLE__USERS_FILE)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "hash-password":
        return _hash_password()
    if args.action == "add-user":
        return _add_user(args)
    return _serve(args)


def read_new_password() -> str:
    """A new password: asked twice at a terminal, else the first line of stdin (scripts)."""
    if sys.stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _hash_password() -> int:
    try:
        password = read_new_password()
    except ValueError as exc:
        print(f"connector console hash-password: {exc}", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _add_user(args: argparse.Namespace) -> int:
    path = args.file or _users_file(ConsoleSettings())
    if path is None:
        print(
            "connector console add-user: name the file with --file or "
            "CONNECTOR_CONSOLE__USERS_FILE",
            file=sys.stderr,
        )
        return 2
    try:
        document: dict[str, Any] = (
            yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
        ) or {"users": {}}
        password = read_new_password()
    except (ValueError, OSError, yaml.YAMLError) as exc:
        print(f"connector console add-user: {exc}", file=sys.stderr)
        return 2
    users = document.setdefault("users", {})
    verb = "changed" if args.name in users else "added"
    users[args.name] = {"role": args.role, "password": hash_password(password)}
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        parse_users(text, str(path))  # never write a file the console would refuse
    except UsersFileError as exc:
        print(f"connector console add-user: {exc}", file=sys.stderr)
        return 2
    write_private(path, text)
    print(f"{verb} {args.name} ({Role[args.role.upper()].label}) in {path}")
    return 0


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, readable by its owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _users_file(settings: ConsoleSettings) -> Path | None:
    users_file = settings.console.users_file
    return Path(users_file) if users_file else None


def _serve(args: argparse.Namespace) -> int:
    settings = ConsoleSettings(**({"http_port": args.port} if args.port else {}))
    users_file, secret = _users_file(settings), settings.console.session_secret
    problem = None
    if users_file is None:
        problem = "set CONNECTOR_CONSOLE__USERS_FILE to the users file (see `add-user`)"
    elif secret is None or len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
        problem = (
            f"set CONNECTOR_CONSOLE__SESSION_SECRET to a random secret of at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -base64 48`)"
        )
    if problem:
        print(f"connector console: {problem}", file=sys.stderr)
        return 2
    assert users_file is not None
    assert secret is not None
    try:
        users = UsersFile(users_file)
        endpoints = resolve_endpoints(settings)
    except (UsersFileError, StackNotFoundError) as exc:
        print(f"connector console: {exc}", file=sys.stderr)
        return 2
    configure_logging("console", settings.log_level)
    logging.getLogger(__name__).info("starting", extra={"port": settings.http_port})
    app = create_app(settings, endpoints, users, secret.get_secret_value())
    return serve(app, "console")
