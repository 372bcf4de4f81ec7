"""JSON logs on stderr, with every registered secret and credential masked before output, and
``scrub`` for error texts that are stored or published rather than logged.

Redaction lives in the formatter, the last step before bytes leave the process, so that no
handler, library or exception traceback can print a secret (a lesson from peers whose
connectors dumped tokens into logs). It runs on each string value before the line is encoded:
once encoded, a secret holding ``"`` or ``\\`` is escaped and no longer matches itself.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

# Longest first, so a secret that contains another is masked whole; swapped, never mutated,
# so readers need no lock.
_SECRETS: tuple[str, ...] = ()
_SECRETS_LOCK = threading.Lock()
_MASK = "***"
# Values after these words are masked even if they were never registered.
_CREDENTIAL_WORDS = r"access_token|refresh_token|client_secret|password|secret"
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(rf"(?i)((?:{_CREDENTIAL_WORDS})[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}}]+"),
    # The password of a URL's user info (postgresql://user:password@host/db).
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)"),
)
# HTTP Basic: base64 of "user:password". Only text that decodes to that shape is masked, so the
# word "basic" in a sentence keeps the word after it.
_BASIC = re.compile(r"(?i)(basic\s+)([A-Za-z0-9+/]+={0,2})")
# A value under such a key is masked whole, whatever it holds (``{"password": "..."}``); in
# text, "Authorization:" is left to the patterns of the scheme that follows it.
_CREDENTIAL_KEY = re.compile(rf"(?i){_CREDENTIAL_WORDS}|authorization")
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it would appear in a log line."""
    global _SECRETS
    if value and len(value) >= 4:
        with _SECRETS_LOCK:
            if value not in _SECRETS:
                _SECRETS = tuple(sorted({*_SECRETS, value}, key=len, reverse=True))


def redact(text: str) -> str:
    """Mask registered secrets and well-known credential patterns in ``text``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + _MASK, text)
    return _BASIC.sub(_mask_basic, text)


def _mask_basic(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return match.group(1) + _MASK if b":" in decoded else match.group(0)


def scrub(text: str, *, limit: int = 2000) -> str:
    """Redact ``text`` and cut it to at most ``limit`` characters before it is stored or published.

    Exception texts and remote error bodies end up in Postgres rows, audit details and Kafka
    messages, which outlive logs and are read by more people: a secret must not reach them, and
    a megabyte-long error page must not bloat a row or push a message past the broker's limit.
    The marker says how much was cut, so a reader knows the text is incomplete; it counts
    toward ``limit``, so scrubbing a scrubbed text changes nothing.
    """
    text = redact(text)
    if len(text) <= limit:
        return text
    # The marker is sized for the longest count it could show, so the result fits in ``limit``.
    keep = max(0, limit - len(_cut_marker(len(text))))
    return text[:keep] + _cut_marker(len(text) - keep)


def _cut_marker(cut: int) -> str:
    return f"… ({cut} more characters)"


def scrub_values(value: Any, *, limit: int = 2000) -> Any:
    """``value`` with every string in it scrubbed, through nested mappings and sequences.

    For structured texts such as audit details: dict keys are kept, a value under a credential
    key (``password``, ``client_secret``, ...) is masked whole, and other types pass unchanged.
    """
    return _clean(value, lambda text: scrub(text, limit=limit))


def _clean(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {
            key: _clean(item, _masked if _CREDENTIAL_KEY.search(str(key)) else clean)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(item, clean) for item in value]
    return value


def _masked(_text: str) -> str:
    return _MASK


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras (job_id, topic, ...)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Encoding once turns every extra (dataclass, URL, exception...) into plain JSON values,
        # whose strings can then be redacted one by one before the line is encoded for good.
        plain = orjson.loads(orjson.dumps(entry, default=str))
        return orjson.dumps(_clean(plain, redact)).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route all logging through one JSON handler on stderr; called once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every group join; its warnings still come through.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
