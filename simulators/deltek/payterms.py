"""Vantagepoint's payment terms: a closed set, and ``Date`` needs a pay date (deltek-api.md §3.D).

A voucher's ``PayTerms`` (and, by the same samples, a vendor's default terms in vendor
accounting) take only ``Next``, ``PWP``, ``Hold`` or ``Date``; a Coupa code such as "Net30" is
refused. With ``Date`` the voucher must carry a ``PayDate``. The refusal's wording follows the
"Please provide a {Field} for table {Table}" form Vantagepoint uses for missing values.
"""

from __future__ import annotations

from typing import Any

from simulators.deltek.store import SimError

PAY_TERMS = ("Next", "PWP", "Hold", "Date")


def check_pay_terms(row: dict[str, Any], table: str, *, pay_date_needed: bool) -> None:
    """Refuse terms outside the set, and (vouchers) ``Date`` without a ``PayDate``."""
    terms = row.get("PayTerms")
    if terms in (None, ""):
        return
    if terms not in PAY_TERMS:
        raise SimError(
            400,
            f"Invalid PayTerms '{terms}' for table {table}. Valid values: Next, PWP, Hold, Date.",
        )
    if pay_date_needed and terms == "Date" and not str(row.get("PayDate") or "").strip():
        raise SimError(400, f"Please provide a PayDate for table {table}.")
