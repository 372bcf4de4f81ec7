"""Signing in, sessions, CSRF and the sign-in limit, over HTTP."""

from __future__ import annotations

import pytest

from services.console.sessions import COOKIE, Session, SessionCodec
from tests.integration.console.conftest import PASSWORD

pytestmark = pytest.mark.integration


async def test_a_visitor_is_sent_to_sign_in_and_comes_back_after(console):
    async with console.client.get("/records?state=parked", allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == "/sign-in?next=%2Frecords%3Fstate%3Dparked"
    assert await console.sign_in("otto") == 303
    async with console.client.get("/") as page:
        assert page.status == 200
        assert "otto (operator)" in await page.text()


async def test_the_session_cookie_is_http_only_lax_and_not_secure_on_loopback_http(console):
    async with console.client.get("/sign-in") as page:
        cookie = page.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]


async def test_a_wrong_password_or_an_unknown_user_is_refused(console):
    assert await console.sign_in("otto", "wrong password!") == 401
    assert await console.sign_in("nobody") == 401
    async with console.client.get("/", allow_redirects=False) as answer:
        assert answer.status == 303


async def test_a_sign_in_without_its_csrf_token_is_refused(console):
    form = {"name": "otto", "password": PASSWORD}
    async with console.client.post("/sign-in", data=form, allow_redirects=False) as answer:
        assert answer.status == 403
    async with console.client.get("/", allow_redirects=False) as answer:
        assert answer.status == 303  # still not signed in


async def test_a_token_from_before_sign_in_is_worth_nothing_after(console):
    before = await console.csrf()
    assert await console.sign_in("otto") == 303
    form = {"csrf": before}
    async with console.client.post("/sign-out", data=form, allow_redirects=False) as answer:
        assert answer.status == 403


async def test_sign_out_ends_the_session(console):
    assert await console.sign_in("ada") == 303
    status, location = await console.post("/sign-out", {}, token_from="/")
    assert (status, location) == (303, "/sign-in")
    async with console.client.get("/", allow_redirects=False) as answer:
        assert answer.status == 303


async def test_wrong_passwords_past_the_limit_are_refused_even_with_the_right_one(console):
    for _ in range(3):
        assert await console.sign_in("otto", "not the password") == 401
    token = await console.csrf()
    form = {"csrf": token, "name": "otto", "password": PASSWORD}
    async with console.client.post("/sign-in", data=form, allow_redirects=False) as answer:
        assert answer.status == 429
        assert 0 < int(answer.headers["Retry-After"]) <= 60
    # Another user from the same address is held too: the address has used up its tries.
    assert await console.sign_in("ada") == 429


async def test_a_cookie_signed_with_another_secret_is_not_a_session(console):
    forged = SessionCodec("another secret, not the console's", 3600).dump(Session.fresh("ada"))
    console.client.session.cookie_jar.clear()
    console.client.session.cookie_jar.update_cookies({COOKIE: forged})
    async with console.client.get("/", allow_redirects=False) as answer:
        assert answer.status == 303


async def test_every_answer_forbids_framing_and_foreign_scripts(console):
    async with console.client.get("/sign-in") as page:
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/records?state=parked", "/records?state=parked"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
    ],
)
async def test_after_sign_in_the_console_goes_back_only_to_its_own_pages(console, asked, goes):
    token = await console.csrf()
    form = {"csrf": token, "name": "otto", "password": PASSWORD, "next": asked}
    async with console.client.post("/sign-in", data=form, allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == goes
