"""Call Out pushes (HMAC and OAuth) and the admin API that triggers them."""

from __future__ import annotations

import base64
import time

import orjson
from aiohttp import web

from shared.coupa.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from simulators.common.server import serve


class Receiver:
    """A stand-in for ingest: records pushes, optionally issues OAuth tokens."""

    def __init__(self, fail_first: int = 0) -> None:
        self.pushes: list[tuple[str, dict[str, str], bytes]] = []
        self.token_requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self.fail_first = fail_first
        self.app = web.Application()
        self.app.router.add_post("/hook/{kind}", self.push)
        self.app.router.add_post("/oauth2/token", self.token)

    async def push(self, request: web.Request) -> web.Response:
        self.pushes.append(
            (request.match_info["kind"], dict(request.headers), await request.read())
        )
        if self.fail_first:
            self.fail_first -= 1
            return web.Response(status=503)
        return web.Response(status=202)

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append((dict(request.headers), form))
        return web.json_response(
            {"access_token": "rcv-token-123", "token_type": "bearer", "expires_in": 86399}
        )


async def _admin(http, sim, method, path, body=None):
    async with http.request(method, f"{sim.url}{path}", json=body) as response:
        return response.status, await response.json()


async def test_approval_pushes_an_hmac_signed_call_out(start_sim, stack, http):
    receiver = Receiver(fail_first=1)
    base = await stack.enter_async_context(serve(receiver.app))
    sim = await start_sim(callout={"url": f"{base}/hook", "secret": "whsec-1"})
    pending = next(
        i for i in sim.store.collections["invoices"].values() if i["status"] == "pending_approval"
    )
    status, body = await _admin(http, sim, "POST", f"/_admin/invoices/{pending['id']}/approve")
    assert (status, body["status"]) == (200, "approved")
    await sim.pusher.drain()
    assert len(receiver.pushes) == 2, "a 503 from the receiver is retried"
    kind, headers, raw = receiver.pushes[-1]
    assert kind == "invoices"
    assert orjson.loads(raw)["id"] == pending["id"]
    assert verify(
        ["old", "whsec-1"], headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], raw,
        now=time.time(),
    )  # fmt: skip
    assert not verify(["other"], headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], raw,
                      now=time.time())  # fmt: skip
    _, deliveries = await _admin(http, sim, "GET", "/_admin/callouts")
    assert deliveries[-1]["status"] == 202
    assert deliveries[-1]["attempts"] == 2


async def test_an_approval_without_call_out_is_left_for_the_poll(start_sim, stack, http):
    receiver = Receiver()
    base = await stack.enter_async_context(serve(receiver.app))
    sim = await start_sim(callout={"url": f"{base}/hook", "secret": "whsec-1"})
    pending = next(
        i for i in sim.store.collections["invoices"].values() if i["status"] == "pending_approval"
    )
    path = f"/_admin/invoices/{pending['id']}/approve?callout=false"
    status, body = await _admin(http, sim, "POST", path)
    await sim.pusher.drain()
    assert (status, body["status"]) == (200, "approved")
    assert receiver.pushes == []


async def test_supplier_change_pushes_with_oauth_client_credentials(start_sim, stack, http):
    receiver = Receiver()
    base = await stack.enter_async_context(serve(receiver.app))
    sim = await start_sim(
        callout={
            "url": f"{base}/hook",
            "auth": "oauth",
            "token_url": f"{base}/oauth2/token",
            "client_id": "coupa",
            "client_secret": "rcv-secret",
        }
    )
    supplier_id = next(iter(sim.store.collections["suppliers"]))
    for name in ("Renamed One LLC", "Renamed Two LLC"):
        status, body = await _admin(http, sim, "PATCH", f"/_admin/suppliers/{supplier_id}",
                                    {"name": name})  # fmt: skip
        assert (status, body["name"]) == (200, name)
    await sim.pusher.drain()
    assert len(receiver.token_requests) == 1, "the receiver's token is reused"
    token_headers, form = receiver.token_requests[0]
    assert form["grant_type"] == "client_credentials"
    assert (
        token_headers["Authorization"] == "Basic " + base64.b64encode(b"coupa:rcv-secret").decode()
    )
    assert token_headers["Cache-Control"] == "no-cache"
    assert [p[0] for p in receiver.pushes] == ["suppliers", "suppliers"]
    assert all(p[1]["Authorization"] == "Bearer rcv-token-123" for p in receiver.pushes)
    assert orjson.loads(receiver.pushes[-1][2])["name"] == "Renamed Two LLC"


async def test_admin_creates_invoices_and_sets_faults_at_run_time(sim, http):
    status, created = await _admin(http, sim, "POST", "/_admin/invoices", {"status": "approved"})
    assert status == 201
    assert created["status"] == "approved"
    assert created["exported"] is False
    assert sim.store.get("invoices", created["id"])["status"] == "approved"
    status, plan = await _admin(http, sim, "POST", "/_admin/faults", {"throttle": {"count": 2}})
    assert status == 200
    assert plan["plan"]["throttle"]["count"] == 2
    async with http.get(f"{sim.url}/api/invoices", headers={"Accept": "application/json"}) as r:
        assert r.status == 429
    status, _ = await _admin(http, sim, "POST", "/_admin/faults", {"nonsense": 1})
    assert status == 400
    status, _ = await _admin(http, sim, "POST", "/_admin/invoices/1/approve")
    assert status == 404
    status, counts = await _admin(http, sim, "POST", "/_admin/reseed", {"seed": 7})
    assert counts["invoices"] == 160
