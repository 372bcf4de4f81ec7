"""A command's content hash survives new optional fields, and still sees every real change."""

from __future__ import annotations

from decimal import Decimal

from shared.messages import ApLine, PostApInvoice, UpsertVendor
from tests.unit.poster.test_voucher import command


class PostApInvoiceNext(PostApInvoice):
    """The command as a later release might define it: one optional field more."""

    remark: str | None = None
    hold: bool = False


class ApLineNext(ApLine):
    memo: str | None = None


def test_an_added_optional_field_leaves_the_hash_as_it_was():
    today = command()
    tomorrow = PostApInvoiceNext(**today.model_dump())
    assert tomorrow.content_hash() == today.content_hash()


def test_an_added_optional_line_field_leaves_the_hash_as_it_was():
    today = command()
    lines = tuple(ApLineNext(**line.model_dump()) for line in today.lines)
    assert command(lines=lines).content_hash() == today.content_hash()


def test_the_added_field_counts_once_it_is_set():
    today = command()
    tomorrow = PostApInvoiceNext(**today.model_dump(), remark="held for review")
    assert tomorrow.content_hash() != today.content_hash()


def test_every_real_change_changes_the_hash():
    base = command().content_hash()
    assert command(total=Decimal("1850.01")).content_hash() != base
    assert command(vendor="OTHER0001").content_hash() != base
    assert command(pay_terms=None).content_hash() != base
    assert command(is_credit_note=True).content_hash() != base


def test_version_and_approval_time_are_not_content():
    base = command()
    later = command(coupa_version="2026-06-06T10:00:00+00:00")
    assert later.content_hash() == base.content_hash()


def test_vendor_hash_survives_an_added_optional_field():
    class UpsertVendorNext(UpsertVendor):
        payment_method: str | None = None

    vendor = UpsertVendor(
        job_id="acme:supplier:7",
        connection="acme",
        record_key="acme:supplier:7",
        coupa_id=7,
        coupa_version="2026-06-05T10:00:00+00:00",
        name="Summit Survey",
        sort_name="SUMMIT SURVEY",
    )
    assert UpsertVendorNext(**vendor.model_dump()).content_hash() == vendor.content_hash()
    assert vendor.model_copy(update={"name": "Summit"}).content_hash() != vendor.content_hash()
