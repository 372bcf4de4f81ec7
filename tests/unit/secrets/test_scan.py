"""The secret scanner finds a value however it was encoded on its way out, and nothing else."""

from __future__ import annotations

import base64
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from shared.secrets.scan import SecretScanner

SECRET = "s3cr/et+Value=with:odd&chars"
scanner = SecretScanner({"callout secret": SECRET}, partners=["sim"])


@given(before=st.binary(max_size=20), after=st.binary(max_size=20))
def test_a_secret_inside_base64_is_found_at_any_alignment(before, after):
    for codec in (base64.b64encode, base64.urlsafe_b64encode):
        leaked = codec(before + SECRET.encode() + after)
        assert scanner.scan(b"log line " + leaked + b" end", "log"), (before, after)


def test_plain_url_encoded_json_escaped_and_basic_credentials_are_found():
    basic = base64.b64encode(f"sim:{SECRET}".encode()).decode()
    for text in (
        f"error: {SECRET}",
        f"GET /?secret={quote(SECRET, safe='')}",
        '{"v": "' + SECRET.replace("/", "\\/") + '"}',
        f"Authorization: Basic {basic}",
    ):
        findings = scanner.scan(text, "output")
        assert findings and findings[0].secret == "callout secret", text
        assert SECRET not in str(findings[0])  # a finding names the secret, never shows it


def test_text_without_the_secret_is_clean(tmp_path):
    (tmp_path / "a.log").write_text("s3cr/et+Value=with:odd&char " * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(base64.b64encode(b"unrelated bytes" * 50))
    assert scanner.scan_folder(tmp_path) == []
    (tmp_path / "sub" / "c.log").write_text(SECRET)
    assert {f.where for f in scanner.scan_folder(tmp_path)} == {str(tmp_path / "sub" / "c.log")}
