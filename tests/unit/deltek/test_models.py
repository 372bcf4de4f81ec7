"""Tolerant record models: Deltek dates, blank WBS levels, decimals, posting results."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import SecretStr

from shared.deltek import ApDetail, DeltekConfig, LedgerRow, Period, PostResult, Project
from shared.deltek.client import _decode, _encode
from shared.logs import redact


def test_dates_round_trip_in_deltek_format() -> None:
    period = Period.model_validate({"Period": 202606, "AccountPdStart": "2026-06-01T00:00:00.000"})
    assert period.AccountPdStart == date(2026, 6, 1)
    assert period.to_body()["AccountPdStart"] == "2026-06-01T00:00:00.000"


def test_blank_wbs_levels_and_unknown_keys_are_tolerated() -> None:
    project = Project.model_validate({"WBS1": "2024001.00", "WBS2": " ", "CustRegion": "West"})
    assert project.WBS2 == ""
    assert project.model_extra == {"CustRegion": "West"}
    assert LedgerRow.model_validate({"WBS1": " "}).WBS1 == ""


def test_money_never_passes_through_float() -> None:
    line = ApDetail(MasterPKey="m", PKey="p", Seq=1, Amount=Decimal("0.10"))
    body = _encode(line.to_body())
    assert b'"Amount":0.10' in body
    assert _decode(b'{"Amount": 1850.10}') == {"Amount": Decimal("1850.10")}


def test_post_result_ok_only_when_every_batch_posted() -> None:
    assert PostResult(retList="1|1").ok
    assert not PostResult(retList="1|0").ok
    assert not PostResult().ok


def test_config_derives_vision_url_and_masks_secrets() -> None:
    config = DeltekConfig(
        base_url="https://acme.deltekfirst.com/acme/api/",
        username="u",
        password=SecretStr("pw-123456"),
        database="d",
        client_id="c",
        client_secret=SecretStr("cs-987654"),
    )
    assert config.vision == "https://acme.deltekfirst.com/acme/vision"
    assert "pw-123456" not in redact("login with pw-123456 and cs-987654")
    assert "cs-987654" not in redact("login with pw-123456 and cs-987654")
