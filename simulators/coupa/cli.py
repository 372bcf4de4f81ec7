"""``connector sim coupa``: run the Coupa simulator on a port (default 127.0.0.1:8091).

Each secret flag may instead be given by an environment variable (``COUPA_SIM_CALLOUT_SECRET``
for ``--callout-secret`` and so on), which is how ``connector dev`` passes them: a command line
is readable by every user of the machine (``ps``), a process's environment only by its owner.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path

from simulators.common.faults import FaultPlan
from simulators.common.server import serve_forever
from simulators.coupa.app import create_app
from simulators.coupa.options import ALL_SCOPES, CalloutOptions, CoupaSimOptions

_VARIABLE_PREFIX = "COUPA_SIM_"
COUPA_SIM_CALLOUT_SECRET = f"{_VARIABLE_PREFIX}CALLOUT_SECRET"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``connector sim coupa``; without any, every credential works and data is seeded."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--client-id", help="accept only this client id (strict mode)")
    _secret_flag(parser, "client-secret", "the secret that goes with --client-id")
    parser.add_argument("--scopes", help="space-separated scopes the strict client may get")
    parser.add_argument("--seed", type=int, default=42, help="data set seed (deterministic)")
    parser.add_argument(
        "--ids-above",
        type=int,
        default=0,
        metavar="ID",
        help="give records made after seeding ids above ID (the seeded ones keep theirs)",
    )
    parser.add_argument("--token-expires-in", type=int, default=86399, help="token lifetime, s")
    parser.add_argument("--no-rate-limit", action="store_true", help="disable the 25/s limiter")
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After on 429")
    parser.add_argument(
        "--honour-order-by",
        action="store_true",
        help="sort indexes by order_by (default: ignore it, answer in ascending id)",
    )
    parser.add_argument("--faults", help="fault plan as JSON, or @path to a JSON file")
    parser.add_argument("--clock-skew", type=float, default=0.0, help="Date header offset, s")
    parser.add_argument("--callout-url", help="push Call Outs to {url}/invoices, {url}/suppliers")
    parser.add_argument("--callout-auth", choices=("hmac", "oauth", "none"), default="hmac")
    _secret_flag(parser, "callout-secret", "HMAC secret for X-Coupa-Signature")
    parser.add_argument("--callout-token-url", help="receiver's OAuth token URL")
    parser.add_argument("--callout-client-id")
    _secret_flag(parser, "callout-client-secret", "the secret that goes with --callout-client-id")


def _secret_flag(parser: argparse.ArgumentParser, flag: str, help_text: str) -> None:
    """``--flag``, defaulting to the variable ``COUPA_SIM_<FLAG>``, the place to give it."""
    variable = _VARIABLE_PREFIX + flag.upper().replace("-", "_")
    parser.add_argument(
        f"--{flag}",
        default=os.environ.get(variable),
        help=f"{help_text}; better in ${variable}, which ps does not show",
    )


def options_from_args(args: argparse.Namespace) -> CoupaSimOptions:
    """Turn parsed flags into simulator options."""
    faults = FaultPlan()
    if args.faults:
        text = args.faults
        if text.startswith("@"):
            text = Path(text[1:]).read_text(encoding="utf-8")
        faults = FaultPlan.model_validate_json(text)
    return CoupaSimOptions(
        client_id=args.client_id,
        client_secret=args.client_secret,
        client_scopes=frozenset(args.scopes.split()) if args.scopes else ALL_SCOPES,
        seed=args.seed,
        ids_above=args.ids_above,
        token_expires_in=args.token_expires_in,
        rate_limit=not args.no_rate_limit,
        send_retry_after=args.retry_after,
        honour_order_by=args.honour_order_by,
        clock_skew_seconds=args.clock_skew,
        faults=faults,
        callout=CalloutOptions(
            url=args.callout_url,
            auth=args.callout_auth,
            secret=args.callout_secret,
            token_url=args.callout_token_url,
            client_id=args.callout_client_id,
            client_secret=args.callout_client_secret,
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the process exit code."""
    app = create_app(options_from_args(args))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(app, args.host, args.port))
    return 0
