"""Sorting Deltek answers into retriable and fatal errors, keeping Deltek's own text."""

from __future__ import annotations

import pytest

from shared.deltek.errors import FieldMissingError, deltek_message, error_for_response
from shared.http import FatalError, RetriableError


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"Message":"Country Code USA does not exist."}', "Country Code USA does not exist."),
        (b'{"message":"lower","detail":"more"}', "lower"),
        (b'{"error":"invalid_grant","error_description":"bad password"}', "bad password"),
        (
            b'"Object reference not set to an instance of an object."',
            "Object reference not set to an instance of an object.",
        ),
        (b"<html>Service Unavailable</html>", "<html>Service Unavailable</html>"),
        (b'{"Other": 1}', '{"Other": 1}'),
        (b"", ""),
    ],
)
def test_message_is_kept_verbatim(body: bytes, message: str) -> None:
    assert deltek_message(body) == message


def test_br_joined_duplicate_message_is_not_altered() -> None:
    text = "Firm Number already exists: C00131.<BR/>Vendor Number already exists: 000056."
    assert deltek_message(f'{{"Message":"{text}"}}'.encode()) == text


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retriable(status: int) -> None:
    error = error_for_response(status, b'{"Message":"busy"}', retry_after=1.5)
    assert isinstance(error, RetriableError)
    assert (error.status, error.detail, error.retry_after) == (status, "busy", 1.5)


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_other_client_errors_are_fatal(status: int) -> None:
    error = error_for_response(status, b'{"Message":"Field FirmID does not exist."}')
    assert isinstance(error, FatalError)
    assert not isinstance(error, RetriableError)
    assert error.detail == "Field FirmID does not exist."


@pytest.mark.parametrize(
    ("status", "body", "field"),
    [
        (400, b'{"Message":"Field InvoiceNumber does not exist."}', "InvoiceNumber"),
        (400, b'{"Message":"Column:CashBasisAccount does not exist"}', "CashBasisAccount"),
        (500, b'{"Message":"Invalid column name \'InvoiceNumber\'."}', "InvoiceNumber"),
    ],
)
def test_a_missing_field_is_fatal_whatever_the_status(status: int, body: bytes, field: str) -> None:
    """deltek-api.md §3.D: "field does not exist" is configuration, never retried or read as an
    empty answer, even when it arrives as a server error."""
    error = error_for_response(status, body)
    assert isinstance(error, FieldMissingError)
    assert not isinstance(error, RetriableError)
    assert (error.field, error.status) == (field, status)


@pytest.mark.parametrize(
    "message", ["Country Code USA does not exist.", "Vendor NOPE does not exist.", "busy"]
)
def test_other_does_not_exist_messages_are_not_missing_fields(message: str) -> None:
    error = error_for_response(400, f'{{"Message":"{message}"}}'.encode())
    assert not isinstance(error, FieldMissingError)
