"""Users files, roles and password hashes, without a server."""

from __future__ import annotations

import pytest

from services.console.users import (
    Role,
    User,
    UsersFile,
    UsersFileError,
    hash_password,
    parse_users,
    user_entry,
    verify_password,
)


def test_a_hash_verifies_its_password_only_and_is_salted():
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second
    user = User("otto", Role.OPERATOR, first)
    assert verify_password(user, "correct horse battery")
    assert not verify_password(user, "correct horse batterY")


def test_an_unknown_user_or_a_broken_hash_never_verifies():
    assert not verify_password(None, "no such user")  # the dummy hash's own password
    assert not verify_password(User("x", Role.ADMIN, "$argon2id$broken"), "anything")


def test_an_entry_made_for_the_file_reads_back():
    users = parse_users(user_entry("ada", Role.ADMIN, "a long enough password"))
    assert users["ada"].role is Role.ADMIN
    assert verify_password(users["ada"], "a long enough password")


def test_roles_are_ordered():
    assert User("o", Role.OPERATOR, "").may(Role.VIEWER)
    assert User("o", Role.OPERATOR, "").may(Role.OPERATOR)
    assert not User("o", Role.OPERATOR, "").may(Role.ADMIN)
    assert not User("v", Role.VIEWER, "").may(Role.OPERATOR)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("users: {bob: {role: viewer, password: hunter2hunter2}}", "never the password itself"),
        ("users: {bob: {role: boss, password: $argon2id$x}}", "has role 'boss'"),
        ("users: {bob: viewer}", "user bob needs a role"),
        ("users: {}", "at least one user"),
        ("- bob", "needs a 'users:' mapping"),
        ("users: [", "is not YAML"),
    ],
)
def test_a_file_the_console_cannot_use_is_refused_with_the_reason(text, says):
    with pytest.raises(UsersFileError, match=says.replace("(", r"\(")):
        parse_users(text)


def test_the_users_file_is_read_again_when_it_changes_and_a_bad_change_keeps_the_last(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(user_entry("otto", Role.VIEWER, "a long enough password"))
    users = UsersFile(path)

    def role(name: str) -> Role | None:
        found = users.get(name)
        return None if found is None else found.role

    assert role("otto") is Role.VIEWER
    path.write_text(user_entry("ada", Role.ADMIN, "another long password"))
    assert (role("otto"), role("ada")) == (None, Role.ADMIN)
    path.write_text("users: [broken")
    assert role("ada") is Role.ADMIN


def test_a_users_file_that_cannot_be_read_at_start_is_an_error(tmp_path):
    with pytest.raises(UsersFileError, match="cannot read the users file"):
        UsersFile(tmp_path / "missing.yaml")
