"""What the Coupa client sends and reads when a server misbehaves (issue 12, outbound).

A redirect is never followed, so neither the client secret nor the bearer token leaves the
configured origin, and no answer is read past its bound; both end in a fatal error that names
what happened, never a secret.
"""

from __future__ import annotations

import time

import pytest

from shared.http import RedirectRefusedError, ResponseTooLargeError
from shared.http.answers import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_TOKEN_RESPONSE_BYTES
from tests.integration.coupa.hostile import (
    ORIGIN_TOKEN,
    elsewhere,
    endless,
    failure,
    issue_token,
    redirect_to,
    start,
    too_big,
)

TOKEN_PATH = "/oauth2/token"
# Short enough that a client waiting for an endless answer fails the test quickly.
TIMEOUT = {"timeout_seconds": 3.0, "attempts": 3}


@pytest.mark.parametrize("status", [307, 308])
async def test_a_redirected_token_request_never_delivers_the_client_secret(
    stack, make_client, status
):
    other = await elsewhere(stack)
    origin = await start(stack, redirect_to(other.url, status))
    coupa = make_client(origin, **TIMEOUT)
    secret = coupa.config.client_secret.get_secret_value()

    refused = await failure(coupa.tokens.token())

    assert not other.carried(secret), "the client secret reached another origin"
    assert other.received == []
    assert isinstance(refused, RedirectRefusedError)
    assert origin.hits(TOKEN_PATH) == 1, "a redirect is fatal, never retried"
    message = str(refused)
    assert f"answered {status}, a redirect to {other.url};" in message
    assert secret not in message


@pytest.mark.parametrize("status", [302, 307, 308])
async def test_an_api_call_redirected_to_another_origin_never_carries_the_bearer(
    stack, make_client, status
):
    other = await elsewhere(stack)
    origin = await start(stack, redirect_to(other.url, status), {TOKEN_PATH: issue_token})
    coupa = make_client(origin, **TIMEOUT)

    refused = await failure(coupa.get_invoice(1))

    assert not other.carried(ORIGIN_TOKEN), "the bearer reached another origin"
    assert other.received == [], "nothing the client sends may reach another origin"
    assert isinstance(refused, RedirectRefusedError)
    assert origin.hits("/api/invoices/1") == 1
    assert other.url in str(refused)
    assert ORIGIN_TOKEN not in str(refused)


async def test_even_a_same_origin_redirect_is_refused(stack, make_client):
    """Coupa documents no redirect: one means a base URL to correct, and refusing them all
    keeps a single rule with no exception to get wrong."""
    routes = {TOKEN_PATH: issue_token, "/moved/{tail:.*}": issue_token}
    origin = await start(stack, redirect_to("/moved", 307), routes)
    coupa = make_client(origin, **TIMEOUT)

    refused = await failure(coupa.get_invoice(1))

    assert origin.hits("/moved/api/invoices/1") == 0
    assert isinstance(refused, RedirectRefusedError)
    assert f"a redirect to {origin.url};" in str(refused)


async def test_a_token_answer_over_its_bound_is_refused_once(stack, make_client):
    origin = await start(stack, too_big(DEFAULT_MAX_TOKEN_RESPONSE_BYTES))
    coupa = make_client(origin, **TIMEOUT)

    with pytest.raises(ResponseTooLargeError) as refused:
        await coupa.tokens.token()

    assert origin.hits(TOKEN_PATH) == 1, "too large is fatal: asking again brings the same"
    assert refused.value.limit == DEFAULT_MAX_TOKEN_RESPONSE_BYTES
    assert f"more than {DEFAULT_MAX_TOKEN_RESPONSE_BYTES} bytes" in str(refused.value)


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
async def test_an_api_answer_over_its_bound_fails_at_once_while_it_streams(
    stack, make_client, declare
):
    """The answer never ends: only a client that bounds it as it arrives (or believes its
    Content-Length) fails before its timeout."""
    page = endless(DEFAULT_MAX_RESPONSE_BYTES + 1, declare=declare)
    origin = await start(stack, page, {TOKEN_PATH: issue_token})
    coupa = make_client(origin, **TIMEOUT)
    started = time.monotonic()

    with pytest.raises(ResponseTooLargeError) as refused:
        await coupa.get_invoice(1)

    assert time.monotonic() - started < TIMEOUT["timeout_seconds"]
    assert origin.hits("/api/invoices/1") == 1
    assert refused.value.status == 200
    assert "/api/invoices/1" in str(refused.value)
