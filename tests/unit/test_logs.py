"""Log redaction: secrets never leave the process in a log line."""

from __future__ import annotations

import logging

import orjson

from shared.logs import JsonFormatter, redact, register_secret


def format_record(msg: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return orjson.loads(JsonFormatter("test").format(record))


def test_registered_secrets_are_masked_in_message_and_extras():
    register_secret("s3cr3t-client-value")
    line = format_record("token call with s3cr3t-client-value", detail="x s3cr3t-client-value y")
    assert "s3cr3t-client-value" not in orjson.dumps(line).decode()
    assert line["msg"] == "token call with ***"
    assert line["detail"] == "x *** y"


def test_bearer_tokens_and_credential_fields_are_masked_without_registration():
    text = redact(
        'Authorization: Bearer abc.def-ghi {"access_token": "tok123", "password": "hunter22"} '
        "client_secret=zzz"
    )
    for leaked in ("abc.def-ghi", "tok123", "hunter22", "zzz"):
        assert leaked not in text


def test_exceptions_are_redacted_too():
    register_secret("pa55word-in-traceback")
    try:
        raise RuntimeError("login failed for pa55word-in-traceback")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), None)
        import sys

        record.exc_info = sys.exc_info()
    out = JsonFormatter("test").format(record)
    assert "pa55word-in-traceback" not in out
    assert "RuntimeError" in out


def test_short_values_are_not_registered_so_logs_stay_readable():
    register_secret("ab")
    assert redact("about abc") == "about abc"
