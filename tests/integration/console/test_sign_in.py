"""Signing in, sessions, CSRF and the sign-in limit, over HTTP."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.console.pages import sign_in
from services.console.sessions import COOKIE, Session, SessionCodec
from services.console.web import LIMITER
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
        ("/records?x=1", "/records?x=1"),
        ("//evil.example", "/"),
        ("//evil", "/"),
        ("/\\evil.example", "/"),
        ("/\\evil", "/"),
        ("https://evil.example/", "/"),
        ("https://evil", "/"),
        # "/%09/evil.example" once decoded: browsers drop the tab and read "//evil.example".
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/ /evil.example", "/"),
        ("/\x00/evil.example", "/"),
        ("records", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
async def test_after_sign_in_the_console_goes_back_only_to_its_own_pages(console, asked, goes):
    token = await console.csrf()
    form = {"csrf": token, "name": "otto", "password": PASSWORD, "next": asked}
    async with console.client.post("/sign-in", data=form, allow_redirects=False) as answer:
        assert answer.status == 303
        assert answer.headers["Location"] == goes


async def test_passwords_are_checked_off_the_event_loop_a_few_at_a_time(console, monkeypatch):
    """Eight wrong passwords at once: each check runs on a worker thread, never more than
    ``VERIFY_AT_ONCE`` together, and the pages go on answering meanwhile."""
    loop_thread = threading.get_ident()
    lock = threading.Condition()
    running = peak = 0
    threads: set[int] = set()

    def slow_verify(user: object, password: str) -> bool:
        nonlocal running, peak
        with lock:
            threads.add(threading.get_ident())
            running += 1
            peak = max(peak, running)
            lock.notify_all()
            # Held a while, so that every check that may start does: one too many ends it.
            lock.wait_for(lambda: running > sign_in.VERIFY_AT_ONCE, timeout=1)
            running -= 1
        return False

    monkeypatch.setattr(sign_in, "verify_password", slow_verify)
    # Not the sign-in limit's test: eight failures from one address would otherwise pass it.
    monkeypatch.setattr(console.client.app[LIMITER], "retry_after", lambda *keys: 0.0)
    token = await console.csrf()

    async def attempt(n: int) -> int:
        form = {"csrf": token, "name": f"user{n}", "password": "wrong", "next": "/"}
        async with console.client.post("/sign-in", data=form, allow_redirects=False) as answer:
            return answer.status

    assert await asyncio.gather(*(attempt(n) for n in range(8))) == [401] * 8
    assert peak == sign_in.VERIFY_AT_ONCE
    assert loop_thread not in threads
