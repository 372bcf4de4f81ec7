"""Coupa payment terms translated to Vantagepoint's, which are a closed set (pure).

Vantagepoint takes only ``Next``, ``PWP`` (pay when paid), ``Hold`` or ``Date`` as a voucher's
``PayTerms``, and ``Date`` needs a ``PayDate`` (deltek-api.md §3.D). A Coupa term such as
"Net 30" is none of these, so it is translated, never copied:

1. the connection's ``mapping.pay_terms`` names the Deltek terms for a Coupa code;
2. otherwise a Coupa term with net days (``days-for-net-payment``) becomes ``mapping.net_terms_as``:
   ``Date`` with ``PayDate`` = invoice date + those days (the default), or ``Next``;
3. otherwise the record parks, naming the term and the setting that would translate it, and
   goes on by itself once the setting has it (the resume sweep retries it).

A vendor's default terms (vendor sync) follow the same rule, but a vendor has no invoice date,
so a term that would become ``Date`` is written as ``Date`` without a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.mapper.rules.outcome import Problem
from shared.connection_settings import MappingSettings, PayTerms
from shared.coupa.models import PaymentTerm


@dataclass(frozen=True)
class DeltekTerms:
    """What Deltek gets: its terms, and the pay date when the terms are ``Date``."""

    terms: PayTerms
    pay_date: date | None = None


def translate(
    term: PaymentTerm | None, mapping: MappingSettings, *, owner: str, invoice_date: date | None
) -> DeltekTerms | Problem:
    """``term`` as Deltek terms for ``owner`` (words for a clerk), or the problem in words."""
    if term is None or term.code is None:
        return Problem(f"{owner} has no payment term in Coupa")
    if (mapped := mapping.pay_terms.get(term.code)) is not None:
        if mapped != "Date":
            return DeltekTerms(mapped)
        if term.days_for_net_payment is None:
            return Problem(
                f"Coupa payment term {term.code!r} maps to Deltek terms Date, but has no net "
                "days to compute the pay date from",
                _waiting(term.code),
            )
        return _dated(term.days_for_net_payment, invoice_date)
    if term.days_for_net_payment is not None:
        if mapping.net_terms_as == "Next":
            return DeltekTerms("Next")
        return _dated(term.days_for_net_payment, invoice_date)
    return Problem(
        f"Coupa payment term {term.code!r} has no Deltek pay terms: add it to mapping.pay_terms "
        "of the connection (Next, PWP, Hold or Date)",
        _waiting(term.code),
    )


def _dated(days: int, invoice_date: date | None) -> DeltekTerms:
    pay_date = None if invoice_date is None else invoice_date + timedelta(days=days)
    return DeltekTerms("Date", pay_date)


def _waiting(code: str) -> dict[str, str]:
    return {"kind": "pay_terms", "coupa_value": code}
