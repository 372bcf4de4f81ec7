"""Call Out endpoints under hostile input: random bodies, headers, encodings, sizes, signatures and
connection names never make a 500; each refusal has its status and is counted in metrics.

Hypothesis runs ``CALLOUT_FUZZ_EXAMPLES`` examples per test (default 150, small enough for CI);
set it higher for a longer hunt, e.g. ``CALLOUT_FUZZ_EXAMPLES=5000 ./run test -k fuzz``.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from services.ingest import tokens
from shared.coupa.signing import sign
from tests.integration.ingest.conftest import CONNECTION, SECRET

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024  # the rig's max_body_bytes
FUZZ = settings(
    max_examples=int(os.environ.get("CALLOUT_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REFUSALS = ("unsigned", "forged", "expired", "out_of_scope", "unknown_connection")

printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def encode(value: object) -> bytes:
    """JSON text (the standard library's: unlike orjson it writes integers of any size)."""
    return json.dumps(value).encode()


@st.composite
def coupa_like(draw: st.DrawFn) -> dict[str, Any]:
    """Objects near the shape ingest takes: an id, an ``updated-at`` and the key that tells an
    invoice (``invoice-number``) or a supplier (``name``), each maybe wrong or missing."""
    body = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
    body["id"] = draw(st.integers(min_value=-5, max_value=2**70) | json_values)
    body["updated-at"] = draw(st.text(max_size=30) | json_values)
    for mark in draw(st.sets(st.sampled_from(["invoice-number", "name"]))):
        body[mark] = draw(json_values)
    return body


bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(encode),
    coupa_like().map(encode),
    st.integers(min_value=LIMIT - 64, max_value=LIMIT + 4096).map(lambda n: b"x" * n),
)


@dataclass(frozen=True)
class Push:
    """One request as the fuzzer sends it, and what it expects of the answer."""

    path: str
    body: bytes
    headers: dict[str, str]
    refusal: str | None  # the expected metrics label of a 401, None when authentic
    routed: bool  # False when the name cannot be a path segment: a plain 404, no handler runs


def _stamp(offset: float) -> str:
    return str(int(time.time() + offset))


def _garbage_refusal(headers: dict[str, str]) -> str:
    """What random credentials are refused as (the server sees header values stripped)."""
    seen = {k: v.strip() for k, v in headers.items()}
    if seen["Authorization"].lower().startswith("bearer "):
        return "forged"
    return "forged" if seen["X-Coupa-Timestamp"] and seen["X-Coupa-Signature"] else "unsigned"


@st.composite
def pushes(draw: st.DrawFn) -> Push:
    body = draw(bodies)
    kind = draw(st.sampled_from(["invoices", "suppliers"]))
    name = draw(st.sampled_from([CONNECTION, CONNECTION, "other"]) | st.text(min_size=1))
    auth = draw(st.sampled_from(["none", "garbage", "signed", "stale", "other-secret", "bearer"]))
    headers: dict[str, str] = {}
    refusal: str | None = None
    if auth == "none":
        refusal = "unsigned"
    elif auth == "garbage":
        headers = {
            "X-Coupa-Timestamp": draw(printable),
            "X-Coupa-Signature": draw(printable),
            "Authorization": draw(st.sampled_from(["", "Basic ", "Bearer "])) + draw(printable),
        }
        refusal = _garbage_refusal(headers)
    elif auth == "bearer":
        # A token past its hour is "expired"; one issued under another secret is forged; one
        # for the other endpoint only is "out_of_scope".
        age = draw(st.sampled_from([0, tokens.TOKEN_LIFETIME_SECONDS + 60]))
        secret = draw(st.sampled_from([SECRET, "not-the-secret"]))
        scopes = draw(st.sampled_from([["invoices"], ["suppliers"], ["invoices", "suppliers"]]))
        token = tokens.issue(CONNECTION, secret, scopes, now=time.time() - age)
        headers = {"Authorization": "Bearer " + token}
        if secret != SECRET:
            refusal = "forged"
        elif age:
            refusal = "expired"
        elif kind not in scopes:
            refusal = "out_of_scope"
    else:
        # "stale": a captured genuine request re-sent after the 300 s window.
        stamp = _stamp(-draw(st.integers(301, 10**6)) if auth == "stale" else 0)
        secret = "not-the-secret" if auth == "other-secret" else SECRET
        headers = {"X-Coupa-Timestamp": stamp, "X-Coupa-Signature": sign(secret, stamp, body)}
        refusal = {"signed": None, "stale": "expired", "other-secret": "forged"}[auth]
    if name != CONNECTION:
        # Whatever the credentials, a name with no Call Out secrets is refused before checking.
        refusal = "unknown_connection"
    headers["Content-Type"] = draw(
        st.sampled_from(["application/json", "text/plain; charset=latin-1", "", "*/*"])
    )
    routed = name not in (".", "..") and not set(name) & set("{}")
    return Push(f"/coupa/{quote(name, safe='')}/{kind}", body, headers, refusal, routed)


async def callout_counts(rig) -> dict[str, float]:
    """``connector_callouts_total`` summed over kinds, by outcome."""
    text = await rig.metrics()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "connector_callouts":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    outcome = sample.labels["outcome"]
                    counts[outcome] = counts.get(outcome, 0) + sample.value
    return counts


def grew(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


@FUZZ
@given(push=pushes())
async def test_call_outs_never_fail_and_every_refusal_is_counted(rig, push: Push):
    before = await callout_counts(rig)
    answer = await rig.client.post(push.path, data=push.body, headers=push.headers)
    text = await answer.text()
    counted = grew(before, await callout_counts(rig))
    if not push.routed:
        assert (answer.status, counted) == (404, {}), text
    elif len(push.body) > LIMIT:
        assert (answer.status, counted) == (413, {"too_large": 1}), text
    elif push.refusal is not None:
        assert (answer.status, counted) == (401, {push.refusal: 1}), text
    else:
        expected = {202: "accepted", 200: "duplicate", 400: "bad_request"}
        assert answer.status in expected, (answer.status, text)
        assert counted == {expected[answer.status]: 1}
    # The connection named in the URL is the sender's choice: it must never become a label.
    assert set(counted) <= {*REFUSALS, "too_large", "accepted", "duplicate", "bad_request"}


@FUZZ
@given(
    body=st.binary(max_size=256) | json_values.map(encode),
    encoding=st.sampled_from(["gzip", "deflate", "br", "identity", "x-unknown", "gzip, gzip"]),
    compress=st.sampled_from(["gzip", "deflate", "none"]),
)
async def test_content_encodings_and_compressed_bombs_never_fail(rig, body, encoding, compress):
    """Compressed, mislabelled and over-the-limit-once-inflated bodies are refused, not crashed."""
    packers: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "none": bytes,
    }
    packed = packers[compress](body)
    stamp = _stamp(0)
    headers = {
        "Content-Encoding": encoding,
        "X-Coupa-Timestamp": stamp,
        "X-Coupa-Signature": sign(SECRET, stamp, body),
    }
    answer = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=packed, headers=headers)
    assert answer.status in (200, 202, 400, 401, 413), (answer.status, await answer.text())


async def test_a_compressed_body_that_inflates_past_the_limit_gets_413(rig):
    inflated = b'{"id": 1, "pad": "' + b"0" * (LIMIT * 4) + b'"}'
    bomb = gzip.compress(inflated)
    assert len(bomb) < LIMIT
    # Signed, so that the body is worth reading: a push refused whatever its body is not read.
    stamp = _stamp(0)
    headers = {
        "Content-Encoding": "gzip",
        "X-Coupa-Timestamp": stamp,
        "X-Coupa-Signature": sign(SECRET, stamp, inflated),
    }
    answer = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=bomb, headers=headers)
    assert answer.status == 413


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["grant_type", "client_id", "client_secret", "scope"]) | printable,
        printable | st.text(),
        max_size=5,
    ),
    basic=st.none() | st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
)
async def test_the_token_endpoint_answers_400_or_401_to_anything_but_good_credentials(
    rig, form, basic
):
    headers = {"Authorization": f"Basic {basic}"} if basic is not None else {}
    answer = await rig.client.post("/oauth2/token", data=form, headers=headers)
    good = form.get("client_secret") == SECRET and form.get("client_id") == CONNECTION
    if good and form.get("grant_type") == "client_credentials" and basic is None:
        assert answer.status == 200
    else:
        assert answer.status in (200, 400, 401), (answer.status, await answer.text())


async def test_a_captured_request_replayed_after_the_window_is_refused_as_expired(rig):
    body = json.dumps(
        {"id": 4242, "updated-at": "2026-01-01T00:00:00Z", "invoice-number": "INV-4242"}
    ).encode()
    stamp = _stamp(0)
    captured = {"X-Coupa-Timestamp": stamp, "X-Coupa-Signature": sign(SECRET, stamp, body)}
    path = f"/coupa/{CONNECTION}/invoices"
    assert (await rig.client.post(path, data=body, headers=captured)).status == 202
    # Within the window a re-send is only acknowledged; after it, the same bytes are refused.
    assert (await rig.client.post(path, data=body, headers=captured)).status == 200
    before = await callout_counts(rig)
    later = time.time() + 301
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: later)
        answer = await rig.client.post(path, data=body, headers=captured)
    assert answer.status == 401
    assert grew(before, await callout_counts(rig)) == {"expired": 1}


async def test_text_postgres_cannot_store_is_a_400_not_a_500(rig):
    body = json.dumps(
        {"id": 77, "updated-at": "2026-01-01T00:00:00Z", "invoice-number": "77", "note": "a\u0000b"}
    )
    stamp = _stamp(0)
    headers = {"X-Coupa-Timestamp": stamp, "X-Coupa-Signature": sign(SECRET, stamp, body.encode())}
    answer = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=body, headers=headers)
    assert answer.status == 400
    assert "cannot be stored" in (await answer.json())["error"]
