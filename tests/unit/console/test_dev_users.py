"""The users file ``connector dev`` keeps: its admin signs in with the kept password, and users
added to it survive the next start."""

from __future__ import annotations

from devstack.dev import CONSOLE_USER, _keep_admin
from services.console.users import Role, load_users, user_entry, verify_password


def test_users_added_are_kept_and_a_stale_admin_is_made_again(tmp_path):
    users_file = tmp_path / "console-users.yaml"
    _keep_admin(users_file, "first dev password")
    with users_file.open("a") as file:  # a user added by hand, under the same users: key
        file.write(user_entry("vera", Role.VIEWER, "a viewer's password").split("\n", 1)[1])
    _keep_admin(users_file, "first dev password")
    assert set(load_users(users_file)) == {CONSOLE_USER, "vera"}

    _keep_admin(users_file, "the password file was deleted")
    users = load_users(users_file)
    assert set(users) == {CONSOLE_USER}
    assert verify_password(users[CONSOLE_USER], "the password file was deleted")
