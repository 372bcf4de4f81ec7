"""What the Deltek client sends and reads when a server misbehaves (issue 12, outbound).

A redirect is never followed, so neither the password, the client secret nor the bearer token
leaves the configured origin, and no answer is read past its bound. A refused token request
latches the connection as needing a person; an oversize answer to a write Deltek accepted is
looked up like a lost one, since the write is done.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from pydantic import SecretStr

from shared.deltek import DeltekClient, DeltekConfig, Firm, NeedsAttentionError, OutcomeUnknownError
from shared.http import (
    Backoff,
    RedirectRefusedError,
    ResponseTooLargeError,
    RetryPolicy,
)
from shared.http.answers import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_TOKEN_RESPONSE_BYTES
from tests.integration.coupa.hostile import (
    ORIGIN_TOKEN,
    Server,
    elsewhere,
    endless,
    failure,
    issue_token,
    redirect_to,
    start,
    too_big,
)

API = "/acme/api"
TOKEN_PATH = f"{API}/token"
PASSWORD = "deltek-api-user-password"
CLIENT_SECRET = "deltek-client-secret-value"
TIMEOUT_SECONDS = 3.0


async def read(vp: DeltekClient) -> Any:
    return await vp.get_firm("V1")


async def write(vp: DeltekClient) -> Any:
    return await vp.create_firm(Firm(Name="Elsewhere Ltd"))


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exit_stack:
        yield exit_stack


@pytest.fixture
def client(stack: AsyncExitStack) -> Callable[[Server], DeltekClient]:
    def make(server: Server) -> DeltekClient:
        config = DeltekConfig(
            base_url=f"{server.url}{API}",
            username="COUPA_API",
            password=SecretStr(PASSWORD),
            database="ACME_PROD",
            client_id="coupa-connector",
            client_secret=SecretStr(CLIENT_SECRET),
            timeout_seconds=TIMEOUT_SECONDS,
        )
        retry = RetryPolicy(attempts=3, backoff=Backoff(initial=0.001, maximum=0.005))
        vp = DeltekClient(config, retry=retry)
        stack.push_async_callback(vp.close)
        return vp

    return make


@pytest.mark.parametrize("status", [307, 308])
async def test_a_redirected_token_request_never_delivers_the_password_or_secret(
    stack, client, status
):
    other = await elsewhere(stack)
    origin = await start(stack, redirect_to(other.url, status))
    vp = client(origin)

    latched = await failure(vp.auth.token())

    assert not other.carried(PASSWORD), "the password reached another origin"
    assert not other.carried(CLIENT_SECRET), "the client secret reached another origin"
    assert other.received == []
    assert isinstance(latched, NeedsAttentionError)
    assert isinstance(latched.__cause__, RedirectRefusedError)
    assert origin.hits(TOKEN_PATH) == 1, "a redirect is fatal, never retried"
    message = str(latched)
    assert f"answered {status}, a redirect to {other.url};" in message
    assert PASSWORD not in message
    assert CLIENT_SECRET not in message


@pytest.mark.parametrize("call", [read, write], ids=["read", "write"])
@pytest.mark.parametrize("status", [302, 307, 308])
async def test_an_api_call_redirected_to_another_origin_never_carries_the_bearer(
    stack, client, status, call
):
    other = await elsewhere(stack)
    origin = await start(stack, redirect_to(other.url, status), {TOKEN_PATH: issue_token})
    vp = client(origin)

    refused = await failure(call(vp))

    assert not other.carried(ORIGIN_TOKEN), "the bearer reached another origin"
    assert other.received == [], "neither the bearer nor the record may reach another origin"
    assert isinstance(refused, RedirectRefusedError)
    assert other.url in str(refused)
    assert ORIGIN_TOKEN not in str(refused)


async def test_a_token_answer_over_its_bound_latches_attention_after_one_request(stack, client):
    origin = await start(stack, too_big(DEFAULT_MAX_TOKEN_RESPONSE_BYTES))
    vp = client(origin)

    with pytest.raises(NeedsAttentionError) as latched:
        await vp.auth.token()

    assert isinstance(latched.value.__cause__, ResponseTooLargeError)
    assert origin.hits(TOKEN_PATH) == 1
    assert f"more than {DEFAULT_MAX_TOKEN_RESPONSE_BYTES} bytes" in str(latched.value)


@pytest.mark.parametrize("declare", [False, True], ids=["streamed", "declared"])
async def test_an_api_answer_over_its_bound_fails_at_once_while_it_streams(stack, client, declare):
    page = endless(DEFAULT_MAX_RESPONSE_BYTES + 1, declare=declare)
    origin = await start(stack, page, {TOKEN_PATH: issue_token})
    vp = client(origin)
    started = time.monotonic()

    with pytest.raises(ResponseTooLargeError) as refused:
        await read(vp)

    assert time.monotonic() - started < TIMEOUT_SECONDS
    assert origin.hits(f"{API}/firm/V1") == 1, "too large is fatal: asking again brings the same"
    assert refused.value.limit == DEFAULT_MAX_RESPONSE_BYTES


async def test_an_oversize_answer_to_an_accepted_write_is_an_unknown_outcome(stack, client):
    """The write is done but what it made is unread: the poster looks it up, as after a lost
    answer, rather than parking a voucher Deltek holds."""
    origin = await start(stack, too_big(DEFAULT_MAX_RESPONSE_BYTES, 201), {TOKEN_PATH: issue_token})
    vp = client(origin)

    with pytest.raises(OutcomeUnknownError) as lost:
        await write(vp)

    assert isinstance(lost.value.__cause__, ResponseTooLargeError)
    assert lost.value.status == 201
    assert origin.hits(f"{API}/firm") == 1


async def test_an_oversize_refusal_of_a_write_is_fatal(stack, client):
    origin = await start(stack, too_big(DEFAULT_MAX_RESPONSE_BYTES, 400), {TOKEN_PATH: issue_token})
    vp = client(origin)

    with pytest.raises(ResponseTooLargeError) as refused:
        await write(vp)

    assert refused.value.status == 400
    assert origin.hits(f"{API}/firm") == 1
