"""``connector sim deltek``: run the Vantagepoint simulator from the command line.

Each credential flag may instead be given by an environment variable (``DELTEK_SIM_PASSWORD``
for ``--password`` and so on): a command line is readable by every user of the machine (``ps``),
a process's environment only by its owner.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import get_args

from simulators.common.faults import FaultPlan
from simulators.common.server import serve_forever
from simulators.deltek.app import create_app
from simulators.deltek.options import (
    BatchRead,
    Credentials,
    LedgerInvoiceKey,
    PayTermsCheck,
    SeedOptions,
    SimOptions,
    VendorAccountingRows,
    VoucherNumbers,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for host, port, strict credentials, tenant settings, seed data and the fault plan."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--instance", default="", help="serve under /{instance}/api")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="accept only the configured client id, secret, user, password and database",
    )
    defaults = Credentials()
    for name in Credentials.model_fields:
        variable = f"DELTEK_SIM_{name.upper()}"
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            default=os.environ.get(variable, getattr(defaults, name)),
            help=f"or ${variable}, which ps does not show",
        )
    parser.add_argument(
        "--no-password-grant", action="store_true", help="refuse the password grant"
    )
    parser.add_argument("--token-lifetime", type=int, default=1799, help="seconds")
    parser.add_argument("--restricted-role", action="store_true", help="amounts read as zero")
    parser.add_argument(
        "--voucher-numbers",
        choices=get_args(VoucherNumbers),
        default="assigned",
        help="assigned: the tenant numbers vouchers and refuses an entered Voucher; "
        "entry_required: a Voucher must be sent and is kept",
    )
    parser.add_argument(
        "--batch-read",
        choices=get_args(BatchRead),
        default="header",
        help="what GET DataEntry/apControl/{batch} answers: the header only, or nested too",
    )
    parser.add_argument(
        "--vendor-accounting",
        choices=get_args(VendorAccountingRows),
        default="with_firm",
        help="with_firm: a vendor firm gets its vendor accounting row on save; "
        "on_insert: only POST /vision/firm/VendorAccountingInfo creates it",
    )
    parser.add_argument(
        "--pay-terms",
        choices=get_args(PayTermsCheck),
        default="closed_set",
        help="closed_set: PayTerms only Next, PWP, Hold or Date (Date needs a PayDate); "
        "any: accept any text",
    )
    parser.add_argument(
        "--ledger-invoice-key",
        choices=get_args(LedgerInvoiceKey),
        default="Invoice",
        help="the PSALedger/AP column holding the vendor's invoice number",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--vendors", type=int, default=300)
    parser.add_argument("--projects", type=int, default=40)
    parser.add_argument("--options", help="JSON file with any SimOptions (overrides the flags)")
    parser.add_argument("--faults", help="fault plan as JSON text or a path to a JSON file")


def _json_arg(value: str) -> str:
    path = Path(value)
    return path.read_text() if not value.lstrip().startswith("{") and path.is_file() else value


def build_options(args: argparse.Namespace) -> SimOptions:
    options = SimOptions(
        instance=args.instance,
        strict_credentials=args.strict,
        credentials=Credentials(**{name: getattr(args, name) for name in Credentials.model_fields}),
        password_grant_enabled=not args.no_password_grant,
        token_lifetime_seconds=args.token_lifetime,
        restricted_role=args.restricted_role,
        voucher_numbers=args.voucher_numbers,
        batch_read=args.batch_read,
        vendor_accounting=args.vendor_accounting,
        pay_terms=args.pay_terms,
        ledger_invoice_key=args.ledger_invoice_key,
        seed=SeedOptions(seed=args.seed, vendors=args.vendors, projects=args.projects),
    )
    if args.options:
        overrides = json.loads(_json_arg(args.options))
        options = SimOptions.model_validate({**options.model_dump(), **overrides})
    return options


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit code 2 when the options or fault plan do not validate."""
    try:
        options = build_options(args)
        faults = FaultPlan.model_validate_json(_json_arg(args.faults)) if args.faults else None
    except (ValueError, OSError) as exc:  # ValidationError and bad JSON are ValueErrors
        print(f"invalid simulator options: {exc}")
        return 2
    app = create_app(options, faults)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(app, args.host, args.port))
    return 0
