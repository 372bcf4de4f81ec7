"""Both Call Out endpoints and the token endpoint under hostile bytes: header values that are not
ASCII or not UTF-8, huge and many headers, every content encoding (stacked, mislabelled, unknown,
or one this build cannot decode). aiohttp's client will not send such headers, so each request is
written byte for byte on a socket. Never a 500; and whenever the connection's endpoint answers a
push 401, a name that is no connection gets exactly the same answer.

``CALLOUT_FUZZ_EXAMPLES`` sets the examples per test, as in ``test_callout_fuzz.py``.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from services.ingest import tokens
from shared.coupa.signing import sign
from tests.integration.ingest.conftest import CONNECTION, SECRET, IngestRig, send_raw
from tests.integration.ingest.test_callout_fuzz import FUZZ

pytestmark = pytest.mark.integration

UNKNOWN = "no-such-connection"
LIMIT = 64 * 1024  # the rig's max_body_bytes

# What a header value may hold on the wire (RFC 9110): tab, visible ASCII and obs-text bytes.
field_bytes = st.lists(
    st.sampled_from([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)]), max_size=80
).map(bytes)
values = st.one_of(
    field_bytes,
    # Any text as UTF-8; line breaks would end the header, anything else stays.
    st.text(max_size=40).map(lambda text: text.encode().replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\xbc", b"\x80"]),
    st.integers(min_value=4_000, max_value=9_000).map(lambda n: b"a" * n),  # around 8190
)
ENCODINGS = [
    b"gzip",
    b"deflate",
    b"br",
    b"zstd",
    b"identity",
    b"GZIP",
    b"x-garbage",
    b"gzip, gzip",
    b"gzip, deflate",
    b"deflate, br",
    b"identity, gzip",
    b"",
]
PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": lambda data: zlib.compress(data)[2:-4],
}


# Random bytes, a token request, or a Coupa invoice: each endpoint gets what the others take.
bodies = st.one_of(
    st.binary(max_size=256),
    st.just(b"grant_type=client_credentials"),
    st.just(orjson.dumps({"id": 9, "updated-at": "2026-01-01", "invoice-number": "9"})),
)


@st.composite
def credentials(draw: st.DrawFn, body: bytes, scope: str) -> list[tuple[bytes, bytes]]:
    """Hostile credential headers, or genuine ones (so that bodies get read) maybe spoilt by a
    byte that is not ASCII."""
    stamp = str(int(time.time())).encode()
    kind = draw(st.sampled_from(["garbage", "signature", "token", "basic"]))
    if kind == "garbage":
        return [
            (b"Authorization", draw(st.sampled_from([b"Bearer ", b"Basic ", b""])) + draw(values)),
            (b"X-Coupa-Timestamp", draw(st.just(stamp) | values)),
            (b"X-Coupa-Signature", draw(st.sampled_from([b"sha256=", b""])) + draw(values)),
        ]
    if kind == "signature":
        genuine = sign(SECRET, stamp.decode(), body).encode()
        return [(b"X-Coupa-Timestamp", stamp), (b"X-Coupa-Signature", draw(spoilt(genuine)))]
    if kind == "token":
        token = tokens.issue(CONNECTION, SECRET, [scope], now=time.time()).encode()
        return [(b"Authorization", b"Bearer " + draw(spoilt(token)))]
    basic = orjson.dumps(f"{CONNECTION}:{SECRET}")[1:-1]
    return [(b"Authorization", b"Basic " + draw(spoilt(basic)))]


def spoilt(genuine: bytes) -> st.SearchStrategy[bytes]:
    """``genuine``, or with one byte replaced by a byte or character that is not ASCII."""
    replace = st.tuples(
        st.integers(min_value=0, max_value=len(genuine) - 1),
        st.sampled_from([b"\xff", b"\x80", "é".encode(), "\u0661".encode()]),
    ).map(lambda at: genuine[: at[0]] + at[1] + genuine[at[0] + 1 :])
    return st.just(genuine) | replace


@st.composite
def requests(draw: st.DrawFn, scope: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and a body packed in zero to two layers, labelled or mislabelled or not at all."""
    plain = draw(bodies)
    body = plain
    for layer in draw(st.lists(st.sampled_from(list(PACKERS)), max_size=2)):
        body = PACKERS[layer](body)
    headers = draw(credentials(plain, scope))
    if draw(st.booleans()):
        headers.append((b"Content-Encoding", draw(st.sampled_from(ENCODINGS) | values)))
    content_type = st.sampled_from(
        [b"application/json", b"application/x-www-form-urlencoded", b"text/plain; charset=x"]
    )
    if draw(st.booleans()):
        headers.append((b"Content-Type", draw(content_type | values)))
    filler = draw(st.sampled_from([0, 0, 40, 200]))  # aiohttp takes at most 128 headers
    headers += [(b"X-Filler-%d" % n, b"x") for n in range(filler)]
    if draw(st.booleans()):
        headers.append((b"X-" + draw(st.sampled_from([b"Anything", b"Coupa-Note"])), draw(values)))
    return headers, body


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["invoices", "suppliers"]))
async def test_call_outs_never_fail_and_answer_an_unknown_name_as_the_connection(
    rig: IngestRig, data: st.DataObject, kind: str
):
    headers, body = data.draw(requests(kind))
    known = await send_raw(rig, f"/coupa/{CONNECTION}/{kind}", headers, body)
    unknown = await send_raw(rig, f"/coupa/{UNKNOWN}/{kind}", headers, body)
    event(f"connection answered {known.status}")  # --hypothesis-show-statistics
    assert known.status in (200, 202, 400, 401, 413), known
    assert unknown.status in (400, 401, 413), unknown
    if known.status == 401:
        assert unknown == known


@FUZZ
@given(data=st.data())
async def test_the_token_endpoint_never_fails(rig: IngestRig, data: st.DataObject):
    headers, body = data.draw(requests("invoices"))
    answer = await send_raw(rig, "/oauth2/token", headers, body)
    event(f"answered {answer.status}")
    assert answer.status in (200, 400, 401, 413), answer
