"""The simulator's live state and its JSON answers: options, data, issued tokens, fault injector."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from simulators.common.faults import FaultInjector
from simulators.deltek.options import SimOptions
from simulators.deltek.seed import seed
from simulators.deltek.store import SimError, Store

# Keys a role without full field visibility reads as zero (deltek-api.md §1.4, ❓).
AMOUNT_KEYS = frozenset(
    {"Amount", "NetAmount", "PaymentAmount", "Total", "Fee", "InvoiceAmount", "ThisYear1099",
     "LastYear1099"}
)  # fmt: skip


@dataclass
class Token:
    """An issued access token: who holds it and when it stops working (monotonic seconds)."""

    user: str
    client_id: str
    expires_at: float


@dataclass
class SimState:
    """One simulated tenant; ``reset`` rebuilds the data but keeps options, tokens and faults."""

    options: SimOptions
    faults: FaultInjector
    store: Store = field(init=False)
    access_tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    @property
    def prefix(self) -> str:
        """``/{instance}`` when the API is mounted under an instance name, else empty."""
        instance = self.options.instance.strip("/")
        return f"/{instance}" if instance else ""

    def reset(self) -> None:
        self.store = Store(rng=random.Random(self.options.seed.seed))
        seed(self.store, self.options)


STATE_KEY = web.AppKey("deltek_sim_state", SimState)


def _default(value: Any) -> Any:
    """Decimals go out as exact JSON numbers, the way Deltek answers amounts (§3.A samples)."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _zero_amounts(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: Decimal(0) if k in AMOUNT_KEYS and v is not None else _zero_amounts(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_zero_amounts(v) for v in value]
    return value


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default)


def answer(data: Any, status: int = 200, *, restricted: bool = False) -> web.Response:
    """A JSON answer; with ``restricted`` every amount reads as zero, as for a limited role."""
    body = dumps(_zero_amounts(data) if restricted else data)
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


def error(status: int, message: str) -> web.Response:
    """Deltek's REST error body, ``{"Message": ...}`` (deltek-api.md §6, simulator default)."""
    return answer({"Message": message}, status)


async def read_json(request: web.Request) -> Any:
    """The request body with decimals kept exact; a malformed body is a 400 like ASP.NET's."""
    text = await request.text()
    try:
        return json.loads(text or "null", parse_float=Decimal)
    except ValueError:
        raise SimError(400, "The request is invalid.") from None
