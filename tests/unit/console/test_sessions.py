"""Session cookies: signed, stamped, and carrying the CSRF token."""

from __future__ import annotations

import time

import itsdangerous.timed
import pytest

from services.console.sessions import Session, SessionCodec


def test_a_session_survives_the_round_trip():
    codec = SessionCodec("x" * 32, 60)
    session = Session.fresh("ada")
    assert codec.load(codec.dump(session)) == session


@pytest.mark.parametrize("value", [None, "", "garbage", "e30.bad.signature"])
def test_anything_but_a_cookie_it_signed_reads_as_no_session(value):
    assert SessionCodec("x" * 32, 60).load(value) is None


def test_a_cookie_signed_under_another_secret_or_changed_reads_as_none():
    value = SessionCodec("y" * 32, 60).dump(Session.fresh("ada"))
    assert SessionCodec("x" * 32, 60).load(value) is None
    good = SessionCodec("x" * 32, 60).dump(Session.fresh("ada"))
    assert (
        SessionCodec("x" * 32, 60).load(good.replace(good[2], "Z" if good[2] != "Z" else "Y", 1))
        is None
    )


def test_an_old_cookie_has_expired(monkeypatch):
    codec = SessionCodec("x" * 32, 60)
    value = codec.dump(Session.fresh("ada"))
    later = time.time() + 61
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)  # type: ignore[attr-defined]
    assert codec.load(value) is None


def test_the_csrf_token_is_the_sessions_own():
    session = Session.fresh()
    assert session.accepts(session.csrf)
    assert not session.accepts(None)
    assert not session.accepts("")
    assert not session.accepts(Session.fresh().csrf)
    assert Session.fresh().csrf != session.csrf
