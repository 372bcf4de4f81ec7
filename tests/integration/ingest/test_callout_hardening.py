"""Call Out input from the security review (issue 12): credentials that are not ASCII, bodies in
encodings that do not decode, names that are no connection, pushes re-sent to the other endpoint.

Whatever is wrong with a credential, and whether or not the connection exists, the answer is the
same 401 with the same body; nothing about a name costs a query more than once in a while.
"""

from __future__ import annotations

import base64
import time
import zlib

import orjson
import pytest

from services.ingest.directory import LOOKUPS_PER_SECOND, MISS_SECONDS
from shared.coupa.signing import sign
from tests.integration.ingest.conftest import CONNECTION, SECRET, IngestRig, send_raw
from tests.integration.ingest.test_callouts_and_poll import inbox_rows, po_invoice, signed

pytestmark = pytest.mark.integration

UNKNOWN = "no-such-connection"


def _stamp() -> bytes:
    return str(int(time.time())).encode()


def _genuine(body: bytes) -> bytes:
    return sign(SECRET, _stamp().decode(), body).encode()


CREDENTIALS = {
    # Signature headers whose text is not ASCII, or whose bytes are not UTF-8 at all.
    "non-ascii signature": lambda body: [
        (b"X-Coupa-Timestamp", _stamp()),
        (b"X-Coupa-Signature", "sha256=é".encode() + _genuine(body)[8:]),
    ],
    "undecodable signature": lambda body: [
        (b"X-Coupa-Timestamp", _stamp()),
        (b"X-Coupa-Signature", b"sha256=\xff\xfe" + _genuine(body)[9:]),
    ],
    "arabic-indic timestamp": lambda body: [
        (b"X-Coupa-Timestamp", ("\u0661\u0667" + "\u0660" * 8).encode()),
        (b"X-Coupa-Signature", _genuine(body)),
    ],
    # Tokens for this connection, of the shape tokens had before, whose MAC is not ASCII.
    "non-ascii bearer": lambda body: [
        (b"Authorization", "Bearer cdi1.YWNtZQ.9999999999.é".encode())
    ],
    "undecodable bearer": lambda body: [(b"Authorization", b"Bearer cdi1.YWNtZQ.9999999999.\xff")],
    "wrong signature": lambda body: [
        (b"X-Coupa-Timestamp", _stamp()),
        (b"X-Coupa-Signature", b"sha256=" + b"0" * 64),
    ],
}


@pytest.mark.parametrize("credential", list(CREDENTIALS), ids=list(CREDENTIALS))
async def test_a_malformed_credential_gets_the_401_of_a_wrong_one_known_connection_or_not(
    rig: IngestRig, db_url, credential
):
    body = orjson.dumps(po_invoice(rig))
    headers = CREDENTIALS[credential](body)
    answers = {
        name: await send_raw(rig, f"/coupa/{name}/invoices", headers, body)
        for name in (CONNECTION, UNKNOWN)
    }
    wrong = await send_raw(
        rig, f"/coupa/{CONNECTION}/invoices", CREDENTIALS["wrong signature"](body), body
    )
    assert answers[CONNECTION] == answers[UNKNOWN] == wrong
    assert wrong.status == 401
    assert orjson.loads(wrong.body) == {"error": "not authenticated for this connection"}
    assert await inbox_rows(db_url) == 0


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"grant_type=client_credentials"),
        ("deflate", b"grant_type=client_credentials"),
        ("gzip", zlib.compress(b"grant_type=client_credentials")),
    ],
    ids=["gzip-not-gzip", "deflate-not-deflate", "gzip-holding-deflate"],
)
async def test_the_token_endpoint_answers_a_body_its_encoding_does_not_describe_with_400(
    rig: IngestRig, encoding, body
):
    basic = base64.b64encode(f"{CONNECTION}:{SECRET}".encode()).decode()
    answer = await rig.client.post(
        "/oauth2/token",
        data=body,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": encoding,
        },
    )
    assert answer.status == 400, await answer.text()
    assert await answer.json() == {"error": "invalid_request"}


async def test_a_token_request_in_json_is_granted_as_coupa_may_send_it(rig: IngestRig):
    basic = base64.urlsafe_b64encode(f"{CONNECTION}:{SECRET}".encode()).decode()
    answer = await rig.client.post(
        "/oauth2/token",
        json={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "Cache-Control": "no-cache"},
    )
    assert answer.status == 200, await answer.text()
    assert set(await answer.json()) == {"access_token", "token_type", "expires_in"}


@pytest.mark.parametrize("name", [UNKNOWN, CONNECTION])
async def test_a_push_refused_whatever_its_body_is_answered_before_the_body_arrives(
    rig: IngestRig, name
):
    # Only the headers are sent: 60 kB are announced and never come. An unknown connection, or
    # a known one without credentials, is refused at once instead of waiting for the body.
    answer = await send_raw(rig, f"/coupa/{name}/invoices", declared_length=60_000, within=2.0)
    assert answer.status == 401


async def test_a_flood_of_names_that_are_no_connection_costs_few_lookups(rig: IngestRig):
    body = orjson.dumps(po_invoice(rig))
    path = f"/coupa/{CONNECTION}/invoices"
    assert (await rig.client.post(path, data=body, headers=signed(body))).status == 202
    rig.directory.looked_up.clear()
    started = time.monotonic()
    for number in range(100):
        for name in (f"ghost-{number}", "ghost-0", "Not_A-Name!", "x" * 200):
            answer = await rig.client.post(
                f"/coupa/{name}/invoices", data=body, headers=signed(body)
            )
            assert answer.status == 401
    seconds = time.monotonic() - started
    # One look-up at most per name per miss period, and few a second all together; names that
    # cannot be connections are never looked up.
    assert len(rig.directory.looked_up) <= LOOKUPS_PER_SECOND * (seconds + 1)
    assert rig.directory.looked_up.count("ghost-0") <= 1 + seconds // MISS_SECONDS
    assert not {"Not_A-Name!", "x" * 200} & set(rig.directory.looked_up)
    # The connection that exists is not held back by the flood.
    again = await rig.client.post(path, data=body, headers=signed(body))
    assert again.status == 200


async def test_a_signed_push_resent_to_the_other_endpoint_is_refused(rig: IngestRig, db_url):
    invoice = orjson.dumps(po_invoice(rig))
    supplier = orjson.dumps(next(iter(rig.sim_store.collections["suppliers"].values())))
    for body, wrong_endpoint in ((invoice, "suppliers"), (supplier, "invoices")):
        captured = signed(body)
        answer = await rig.client.post(
            f"/coupa/{CONNECTION}/{wrong_endpoint}", data=body, headers=captured
        )
        assert answer.status == 400, await answer.text()
    assert await inbox_rows(db_url) == 0
    # Each on its own endpoint is taken.
    for body, endpoint in ((invoice, "invoices"), (supplier, "suppliers")):
        answer = await rig.client.post(
            f"/coupa/{CONNECTION}/{endpoint}", data=body, headers=signed(body)
        )
        assert answer.status == 202


async def test_a_token_asked_for_one_endpoint_opens_that_one_only(rig: IngestRig):
    basic = base64.urlsafe_b64encode(f"{CONNECTION}:{SECRET}".encode()).decode()
    issued = await rig.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "invoices"},
        headers={"Authorization": f"Basic {basic}"},
    )
    grant = await issued.json()
    assert grant["scope"] == "invoices"
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}
    supplier = orjson.dumps(next(iter(rig.sim_store.collections["suppliers"].values())))
    refused = await rig.client.post(f"/coupa/{CONNECTION}/suppliers", data=supplier, headers=bearer)
    assert refused.status == 401
    invoice = orjson.dumps(po_invoice(rig))
    taken = await rig.client.post(f"/coupa/{CONNECTION}/invoices", data=invoice, headers=bearer)
    assert taken.status == 202
