"""Log redaction: secrets never leave the process in a log line."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from decimal import Decimal

import orjson

from shared.logs import JsonFormatter, redact, register_secret, scrub, scrub_values
from shared.secrets.scan import SecretScanner


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


def test_a_secret_holding_quotes_or_backslashes_is_masked_in_every_field():
    """Redaction on the encoded line missed these: JSON escapes them, so they no longer matched."""
    secret = 'q"uo\\te-s3cret-value'
    register_secret(secret)
    line = format_record(f"login with {secret}", detail={"nested": [f"x {secret} y"]})
    out = JsonFormatter("test").format(
        logging.LogRecord("x", logging.INFO, __file__, 1, f"again {secret}", (), None)
    )
    assert SecretScanner({"secret": secret}).scan(orjson.dumps(line) + out.encode(), "log") == []
    assert line["msg"] == "login with ***"
    assert line["detail"] == {"nested": ["x *** y"]}


def test_basic_credentials_are_masked_but_the_word_basic_is_not():
    credentials = base64.b64encode(b"coupa-client:an-unregistered-secret").decode()
    line = format_record(f"sent Authorization: Basic {credentials}", headers={"x": "basic facts"})
    assert credentials not in orjson.dumps(line).decode()
    assert line["msg"] == "sent Authorization: Basic ***"
    assert line["headers"] == {"x": "basic facts"}


def test_values_under_credential_keys_are_masked_whole():
    line = format_record(
        "token answer",
        body={"access_token": "plain-tok", "Authorization": "Digest x"},
        password="hunter-2",
        secrets=3,
    )
    assert line["body"] == {"access_token": "***", "Authorization": "***"}
    assert (line["password"], line["secrets"]) == ("***", 3)


def test_extras_of_any_type_are_redacted_after_becoming_json():
    @dataclass
    class Call:
        url: str

    register_secret("dataclass-held-secret")
    line = format_record("call", call=Call("https://x/?k=dataclass-held-secret"), when=Decimal(1))
    assert line["call"] == {"url": "https://x/?k=***"}
    assert line["when"] == "1"


def test_scrub_redacts_and_bounds_with_a_marker_and_is_stable():
    register_secret("scrubbed-away-secret")
    text = "Deltek said: scrubbed-away-secret " + "x" * 5000
    once = scrub(text, limit=300)
    assert len(once) == 300
    assert once.startswith("Deltek said: *** xxx")
    assert once.endswith(f"… ({len(redact(text)) - once.index('…')} more characters)")
    assert scrub(once, limit=300) == once
    assert scrub("short") == "short"
    long = scrub("y" * 100_000)
    assert 1990 < len(long) <= 2000
    assert long.endswith(f"… ({100_000 - long.index('…')} more characters)")


def test_scrub_values_scrubs_every_string_and_keeps_the_shape():
    register_secret("detail-held-secret")
    details = {"error": "boom detail-held-secret", "lines": [("a" * 3000,)], "n": 2, "x": None}
    scrubbed = scrub_values(details, limit=100)
    assert scrubbed["error"] == "boom ***"
    assert len(scrubbed["lines"][0][0]) == 100
    assert (scrubbed["n"], scrubbed["x"]) == (2, None)
