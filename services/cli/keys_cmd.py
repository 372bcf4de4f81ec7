"""``connector keys generate|rotate|callout-secret``: make a master key; move every secret onto
the current key; make a Call Out secret strong enough for ``connections apply``.

Rotation without downtime: generate a key; give every process ``CONNECTOR_MASTER_KEY=<new>``
and ``CONNECTOR_MASTER_KEY_PREVIOUS=<old>`` (readers then open both); run ``connector keys
rotate``; once it reports that no secret remains under another key, drop the previous key.
"""

from __future__ import annotations

import argparse
import sys

from services.cli.connections_cmd import run_guarded, say
from services.cli.db_cmd import database
from services.cli.dev_key import key_ring
from shared.connections.rotation import rotate_keys
from shared.logs import configure_logging
from shared.secrets import MasterKey, generate_callout_secret, generate_key
from shared.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("generate", help="print a new random master key")
    actions.add_parser("rotate", help="re-encrypt every stored secret under CONNECTOR_MASTER_KEY")
    actions.add_parser(
        "callout-secret", help="print a new random Call Out secret (for callout_secrets)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "generate":
        return generate()
    if args.action == "callout-secret":
        return callout_secret()
    settings = Settings()
    configure_logging("keys", settings.log_level)
    return run_guarded("keys rotate", rotate(settings))


def generate() -> int:
    """The key alone on stdout, so ``export CONNECTOR_MASTER_KEY=$(connector keys generate)``."""
    key = generate_key()
    key_id = MasterKey.parse(key, source="the new key").key_id
    print(key)
    print(f"key id {key_id}; keep the key secret and safe", file=sys.stderr)
    return 0


def callout_secret() -> int:
    """The secret alone on stdout, to give both Coupa's Call Out and ``callout_secrets``."""
    print(generate_callout_secret())
    print(
        "enter it in Coupa's Call Out (HMAC key or OAuth client secret) and in callout_secrets",
        file=sys.stderr,
    )
    return 0


async def rotate(settings: Settings) -> int:
    ring = key_ring(settings, "keys rotate")
    async with database(settings, "keys rotate") as db:
        done = await rotate_keys(db, ring)
    for name, fields in done.resealed.items():
        say(f"{name}: re-encrypted {', '.join(fields)}")
    resealed = sum(len(fields) for fields in done.resealed.values())
    say(f"{resealed} secret(s) re-encrypted and {done.current} already under key {done.key_id}")
    others = sorted(done.remaining_key_ids - {done.key_id})
    if others:
        say(f"still sealed under other keys: {', '.join(others)}", err=True)
        return 1
    say("no secret remains under another key; CONNECTOR_MASTER_KEY_PREVIOUS can be removed")
    return 0
