"""``connector sim deltek`` argument handling, without starting a server."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulators.deltek.cli import add_arguments, build_options, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_are_open_and_seeded() -> None:
    args = parse()
    options = build_options(args)
    assert (args.host, args.port) == ("127.0.0.1", 8092)
    assert not options.strict_credentials
    assert options.seed.vendors == 300


def test_flags_and_options_file(tmp_path: Path) -> None:
    extra = tmp_path / "options.json"
    extra.write_text(json.dumps({"duplicate_batch": "reject", "seed": {"seed": 9, "vendors": 5}}))
    options = build_options(
        parse("--strict", "--password", "pw", "--restricted-role", "--options", str(extra))
    )
    assert options.strict_credentials
    assert options.credentials.password == "pw"
    assert options.restricted_role
    assert options.duplicate_batch == "reject"
    assert (options.seed.seed, options.seed.vendors) == (9, 5)


def test_tenant_settings_default_to_what_a_real_tenant_does_and_have_flags() -> None:
    """deltek-api.md §3.D: each fact is enforced by default; a flag gives the other reading."""
    options = build_options(parse())
    assert (options.voucher_numbers, options.batch_read, options.vendor_accounting) == (
        "assigned",
        "header",
        "with_firm",
    )
    assert options.ledger_invoice_key == "Invoice"
    flagged = build_options(
        parse(
            *("--voucher-numbers", "entry_required", "--batch-read", "nested"),
            *("--vendor-accounting", "on_insert", "--ledger-invoice-key", "InvoiceNumber"),
        )
    )
    assert (flagged.voucher_numbers, flagged.batch_read, flagged.vendor_accounting) == (
        "entry_required",
        "nested",
        "on_insert",
    )
    assert flagged.ledger_invoice_key == "InvoiceNumber"


def test_invalid_fault_plan_exits_with_2() -> None:
    assert run(parse("--faults", '{"no_such_fault": 1}')) == 2
