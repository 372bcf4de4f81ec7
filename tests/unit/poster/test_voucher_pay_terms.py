"""The voucher carries Deltek's pay terms, and a pay date exactly when the terms are Date."""

from __future__ import annotations

from datetime import date

import pytest

from services.poster.voucher import VoucherError, build_batch
from tests.unit.poster.test_voucher import POSTING, command


def test_date_terms_carry_the_pay_date_in_deltek_format():
    """deltek-api.md §3.D: with PayTerms Date a PayDate is required."""
    body = build_batch(command(pay_terms="Date", pay_date=date(2026, 7, 3)), POSTING).to_body()
    (master,) = body["apMaster"]
    assert (master["PayTerms"], master["PayDate"]) == ("Date", "2026-07-03T00:00:00.000")


@pytest.mark.parametrize("terms", ["Next", "PWP", "Hold"])
def test_other_terms_send_no_pay_date(terms):
    body = build_batch(command(pay_terms=terms), POSTING).to_body()
    (master,) = body["apMaster"]
    assert master["PayTerms"] == terms and "PayDate" not in master


def test_date_terms_without_a_pay_date_are_refused_before_sending():
    with pytest.raises(VoucherError, match="a pay date for payment terms Date"):
        build_batch(command(pay_terms="Date"), POSTING)
