"""Who may use the console: users and roles from a YAML file, passwords as argon2 hashes.

The file maps each user name to a role and a hash (``connector console add-user`` writes both)::

    users:
      alice: {role: operator, password: "$argon2id$v=19$m=65536,t=3,p=4$..."}

The console reads the file again whenever it changes (``UsersFile``): a user added or removed, or
a role changed, counts from the next request, without a restart.

Roles are ordered: a viewer reads, an operator also fixes mappings and replays, an admin may do
everything an operator may (and what later pages reserve for admins).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong
    password and the answer time does not tell which user names exist. Made on first use: every
    ``connector`` command imports this module, and a hash costs time and memory on purpose."""
    return _HASHER.hash("no such user")


class Role(IntEnum):
    """Each role may do everything the ones below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str

    def may(self, needed: Role) -> bool:
        return self.role >= needed


class UsersFileError(ValueError):
    """The users file cannot be used; the message says where and why."""


def hash_password(password: str) -> str:
    """An argon2id hash with the library's recommended cost (salt and parameters inside)."""
    return _HASHER.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; takes as long for an unknown user as for a known one."""
    try:
        return _HASHER.verify(user.password_hash if user else _dummy_hash(), password) and bool(
            user
        )
    except (VerificationError, InvalidHashError):
        return False


def parse_users(text: str, source: str = "users file") -> dict[str, User]:
    """The users in a users file's text; every problem is named with the user it concerns."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{source} is not YAML: {exc}") from exc
    entries = document.get("users") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise UsersFileError(f"{source} needs a 'users:' mapping with at least one user")
    users: dict[str, User] = {}
    for name, entry in entries.items():
        users[str(name)] = _user(str(name), entry, source)
    return users


def _user(name: str, entry: Any, source: str) -> User:
    if not isinstance(entry, dict):
        raise UsersFileError(f"{source}: user {name} needs a role and a password hash")
    role = str(entry.get("role", "")).upper()
    if role not in Role.__members__:
        choices = ", ".join(r.label for r in Role)
        raise UsersFileError(f"{source}: user {name} has role {entry.get('role')!r}; use {choices}")
    password = str(entry.get("password", ""))
    if not password.startswith("$argon2"):
        raise UsersFileError(
            f"{source}: user {name}'s password must be an argon2 hash "
            "(make one with `connector console hash-password`), never the password itself"
        )
    return User(name, Role[role], password)


def load_users(path: Path) -> dict[str, User]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError(f"cannot read the users file {path}: {exc.strerror}") from exc
    return parse_users(text, str(path))


def user_entry(name: str, role: Role, password: str) -> str:
    """The YAML lines for one user under ``users:``, with the password hashed."""
    return yaml.safe_dump(
        {"users": {name: {"role": role.label, "password": hash_password(password)}}},
        sort_keys=False,
    )


class UserDirectory(Protocol):
    """Where the console looks users up: a ``UsersFile``, or a plain dict in tests."""

    def get(self, name: str, /) -> User | None: ...


class UsersFile:
    """The users in a file, read again when the file changes.

    A change that cannot be read (a typo while editing it by hand) keeps the users read last and
    logs why, so a slip does not lock everyone out; ``add-user`` replaces the file in one step.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._stat()
        self._users = load_users(path)  # at start, a file that cannot be read stops the console

    def get(self, name: str, /) -> User | None:
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._users = load_users(self._path)
                log.info("users file read again", extra={"users": len(self._users)})
            except UsersFileError as exc:
                log.error(
                    "users file changed but cannot be read; keeping the users read last",
                    extra={"error": str(exc)},
                )
        return self._users.get(name)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            found = self._path.stat()
        except OSError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)
