"""A search for secret values in what the connector leaves behind: logs, tables, metrics, output.

Redaction masks what it knows about; this checks from the outside that it knew enough. Each
secret is looked for as it is and in the encodings a leak usually takes (base64 of the value and
of ``client_id:secret`` pairs as in HTTP Basic, URL-encoding, JSON escaping), so a token that was
encoded on its way into a log still counts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

# Shorter values match by chance (and redaction ignores them too, see shared.logs).
MIN_LENGTH = 4


@dataclass(frozen=True)
class Finding:
    """One secret found: which (by name, never its value), where, and in which encoding."""

    secret: str
    where: str
    encoding: str
    offset: int

    def __str__(self) -> str:
        return f"{self.secret} ({self.encoding}) in {self.where} at byte {self.offset}"


def encodings(value: str, *, partners: Iterable[str] = ()) -> dict[str, bytes]:
    """The byte patterns ``value`` may take in a leak; ``partners`` are usernames or client ids
    that might precede it in a Basic credential (``user:secret``, base64-encoded)."""
    raw = value.encode()
    found = {
        "plain": raw,
        "url-encoded": quote(value, safe="").encode(),
        "form-encoded": quote_plus(value).encode(),
        "json-escaped": json.dumps(value)[1:-1].encode(),
        "json-escaped with \\/": json.dumps(value)[1:-1].replace("/", "\\/").encode(),
    }
    for name, codec in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        # Inside a longer encoded text the value's encoding depends on its position modulo 3:
        # the stable middle of each of the three alignments is what can be searched for.
        for shift in range(3):
            encoded = codec(b"\0" * shift + raw)[4 if shift else 0 :].rstrip(b"=")
            if len(encoded) > 2:
                found[f"{name}/{shift}"] = encoded[:-2]
        for partner in partners:
            found[f"{name} of {partner}:…"] = codec(f"{partner}:{value}".encode()).rstrip(b"=")
    distinct: dict[bytes, str] = {}
    for encoding, pattern in found.items():
        if len(pattern) >= MIN_LENGTH:
            distinct.setdefault(pattern, encoding)
    return {encoding: pattern for pattern, encoding in distinct.items()}


class SecretScanner:
    """Holds the secrets to look for (by name) and searches bytes, text and folders for them."""

    def __init__(self, secrets: Mapping[str, str], *, partners: Iterable[str] = ()) -> None:
        partners = tuple(partners)
        self._patterns = [
            (name, encoding, pattern)
            for name, value in secrets.items()
            if len(value) >= MIN_LENGTH
            for encoding, pattern in encodings(value, partners=partners).items()
        ]

    def scan(self, data: bytes | str, where: str) -> list[Finding]:
        blob = data.encode(errors="surrogateescape") if isinstance(data, str) else data
        return [
            Finding(name, where, encoding, offset)
            for name, encoding, pattern in self._patterns
            if (offset := blob.find(pattern)) >= 0
        ]

    def scan_folder(self, folder: Path) -> list[Finding]:
        """Every file under ``folder`` (logs, dumps), read as bytes."""
        findings: list[Finding] = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            findings += self.scan(path.read_bytes(), str(path))
        return findings
