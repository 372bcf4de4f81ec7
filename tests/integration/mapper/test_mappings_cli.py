"""``connector mappings import|export|check`` against a real Postgres."""

from __future__ import annotations

import asyncio

import pytest

from services.cli.main import build_parser
from shared.kafka.envelope import Envelope
from shared.messages import SUPPLIER_CHANGED, SupplierChanged
from tests.integration.mapper.conftest import STRANGER, invoice_envelope
from tests.unit.mapper.builders import account, line

pytestmark = pytest.mark.integration


@pytest.fixture
def connector(db_url, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", db_url)

    async def run(*argv: str) -> int:
        args = build_parser().parse_args(["mappings", *argv])
        return await asyncio.to_thread(args.func, args)

    return run


async def test_import_upserts_and_export_writes_the_same_file_back(
    rig, connector, tmp_path, capsys
):
    source = tmp_path / "suppliers.csv"
    source.write_text("coupa_value,deltek_value\n 217 ,NWS0001\nV-00900, NKL0001\n\n")
    assert (
        await connector("import", "--connection", "acme", "--kind", "suppliers", str(source)) == 0
    )
    assert "acme suppliers: 2 added, 0 changed, 0 unchanged" in capsys.readouterr().out

    source.write_text("\ufeffcoupa_value,deltek_value\n217,NWS0001\nV-00900,GONE0001\n")
    assert (
        await connector("import", "--connection", "acme", "--kind", "suppliers", str(source)) == 0
    )
    out = capsys.readouterr().out
    assert "warning: GONE0001 (for V-00900) is not in the Deltek suppliers cache" in out
    assert "acme suppliers: 0 added, 1 changed, 1 unchanged" in out

    exported = tmp_path / "out.csv"
    args = ("export", "--connection", "acme", "--kind", "suppliers")
    assert await connector(*args, "--output", str(exported)) == 0
    assert exported.read_text() == "coupa_value,deltek_value\n217,NWS0001\nV-00900,GONE0001\n"
    assert await connector(*args) == 0
    assert capsys.readouterr().out == exported.read_text()


async def test_import_refuses_a_bad_file_whole_and_says_where(rig, connector, tmp_path, capsys):
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("supplier,vendor\n217,NWS0001\n")
    args = ("import", "--connection", "acme", "--kind", "suppliers")
    assert await connector(*args, str(bad_header)) == 2
    assert "line 1: the header must be coupa_value,deltek_value" in capsys.readouterr().err

    bad_rows = tmp_path / "rows.csv"
    bad_rows.write_text(
        "coupa_value,deltek_value\n217,NWS0001\n,NKL0001\nV-1,\n217,OTHER\nV-2,A,B\n"
    )
    assert await connector(*args, str(bad_rows)) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[1:] == [
        "  line 3: coupa_value is empty",
        "  line 4: deltek_value is empty",
        "  line 5: 217 is already mapped on line 2",
        "  line 6: expected 2 values, found 3",
    ]
    assert await rig.pool.fetchval("SELECT count(*) FROM mappings") == 0


async def test_check_lists_what_lacks_a_mapping_and_who_waits_for_it(rig, connector, capsys):
    """A supplier whose vendor Deltek holds inactive is counted apart: it has one, to reactivate."""
    # Cached before the first message: a row written by hand is not announced to the mapper.
    await rig.pool.execute(
        "INSERT INTO deltek_vendors (connection, client_id, vendor, name, status) "
        "VALUES ('acme', 'c9', 'OLD0001', 'Old Firm LLC', 'I')"
    )
    await rig.deliver(invoice_envelope(1, supplier=STRANGER))
    unknown_gl = invoice_envelope(
        2, fields={"invoice-lines": [line(1, "500.00", account("1001", "5999"))]}
    )
    await rig.deliver(unknown_gl)
    await rig.deliver(invoice_envelope(3))
    await rig.deliver(invoice_envelope(4, supplier={"id": 902, "number": "OLD0001"}))
    unused = {"id": 901, "updated-at": "2026-06-01T00:00:00Z", "number": "V-00901",
              "name": "Not Yet Used LLC", "status": "active"}  # fmt: skip
    await rig.deliver(
        Envelope(
            schema=SUPPLIER_CHANGED,
            connection="acme",
            key="acme:supplier:901",
            source="poll",
            payload=SupplierChanged(supplier=unused).model_dump(mode="json"),
        )
    )
    assert await connector("check", "acme") == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "acme: 4 invoices stored, 3 parked, 1 Coupa suppliers stored",
        "  Coupa suppliers without a Deltek vendor:           2",
        "  Coupa suppliers whose Deltek vendor is inactive:   1",
        "  account segment values without a GL account:       1",
        "  project codes without an open, chargeable project: 0",
        "  Coupa payment terms without Deltek pay terms:      0",
        "Lacking a mapping or a usable Deltek record:",
        "  supplier 900  Coupa supplier V-00900 (Nobody Known LLC): 1 invoice(s), "
        "parked: acme:invoice:1",
        "  supplier 901  Coupa supplier V-00901 (Not Yet Used LLC): 0 invoice(s)",
        "  supplier 902  Coupa supplier OLD0001, Deltek vendor inactive: 1 invoice(s), "
        "parked: acme:invoice:4",
        "  account 5999  Coupa account 1001-5999-100: 1 invoice(s), parked: acme:invoice:2",
    ]
    assert await connector("check", "nowhere") == 2
