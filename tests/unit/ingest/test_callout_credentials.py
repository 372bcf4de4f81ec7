"""Call Out credentials as they arrive: any text at all (aiohttp turns header bytes that are not
UTF-8 into lone surrogates) is judged, never raised on; a token opens one connection's endpoints
it was asked for, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest import tokens
from shared.coupa.signing import check, read_headers, sign

NOW = 1_700_000_000.0
BODY = b'{"id": 1}'
SECRETS = ["a-call-out-secret"]

# Header values as aiohttp hands them over: any text, and any bytes decoded with surrogateescape.
header_text = st.text() | st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape"))


def with_non_ascii(genuine: str) -> list[str]:
    """``genuine`` with one character made non-ASCII, first and last, UTF-8 or undecodable."""
    return [
        replaced
        for char in ("é", "\udcff", "\u0661")
        for replaced in (char + genuine[1:], genuine[:-1] + char)
    ]


@given(
    timestamp=st.none()
    | header_text
    | st.integers(min_value=0).map(str)
    | st.text("0123456789\u0661 +_"),
    signature=st.none() | header_text | header_text.map(lambda text: "sha256=" + text),
)
def test_any_signature_headers_are_judged_never_raised_on(timestamp, signature):
    assert check(SECRETS, timestamp, signature, BODY, now=NOW) in ("unsigned", "forged")


def test_a_signature_with_a_character_that_is_not_ascii_is_forged():
    stamp = str(int(NOW))
    genuine = sign(SECRETS[0], stamp, BODY)
    assert check(SECRETS, stamp, genuine, BODY, now=NOW) == "ok"
    for spoilt in with_non_ascii(genuine):
        assert check(SECRETS, stamp, spoilt, BODY, now=NOW) == "forged", spoilt


@pytest.mark.parametrize("stamp", ["+1700000000", " 1700000000", "1_700_000_000", "\u0661" * 10])
def test_a_timestamp_int_would_read_but_sign_never_writes_is_forged(stamp):
    assert read_headers(stamp, sign(SECRETS[0], stamp, BODY)) == "forged"


@given(token=header_text, connection=header_text)
def test_any_bearer_is_judged_never_raised_on(token, connection):
    assert tokens.check(token, connection, "invoices", SECRETS, now=NOW) == "forged"


def test_a_token_opens_the_endpoints_of_its_own_connection_it_was_asked_for():
    token = tokens.issue("acme", SECRETS[0], ["invoices"], now=NOW)
    assert tokens.check(token, "acme", "invoices", SECRETS, now=NOW) == "ok"
    assert tokens.check(token, "acme", "suppliers", SECRETS, now=NOW) == "out_of_scope"
    assert tokens.check(token, "globex", "invoices", SECRETS, now=NOW) == "forged"
    assert tokens.check(token, "acme", "invoices", ["another-secret"], now=NOW) == "forged"
    later = NOW + tokens.TOKEN_LIFETIME_SECONDS + 1
    assert tokens.check(token, "acme", "invoices", SECRETS, now=later) == "expired"
    both = tokens.issue("acme", SECRETS[0], ["invoices", "suppliers"], now=NOW)
    assert {tokens.check(both, "acme", s, SECRETS, now=NOW) for s in ("invoices", "suppliers")} == {
        "ok"
    }
    for spoilt in with_non_ascii(token):
        assert tokens.check(spoilt, "acme", "invoices", SECRETS, now=NOW) == "forged", spoilt


def test_a_scope_cannot_be_widened_by_editing_the_token():
    token = tokens.issue("acme", SECRETS[0], ["invoices"], now=NOW)
    widened = token.replace(".invoices.", ".invoices+suppliers.")
    assert tokens.check(widened, "acme", "suppliers", SECRETS, now=NOW) == "forged"


@given(given_secret=header_text)
def test_comparing_a_client_secret_never_raises(given_secret):
    assert tokens.constant_time_equal(SECRETS[0], given_secret) == (given_secret == SECRETS[0])
