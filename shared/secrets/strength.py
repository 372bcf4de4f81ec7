"""How strong a secret must be before it is stored, and a generator of strong ones.

The connector *verifies* the Call Out secrets (HMAC signatures, and the client secret of Coupa's
OAuth Call Outs to ``/oauth2/token``): whoever guesses one can push invoices into the pipeline,
so they must be long enough not to be guessed. Secrets that Coupa or Deltek issue to the
connector are the issuer's to make strong; only an empty one is refused, as it is surely a
mistake.
"""

from __future__ import annotations

import secrets

MIN_VERIFIED_LENGTH = 32
# 32 random bytes, 43 URL-safe characters: 256 bits, as much as the HMAC-SHA256 key can use.
_GENERATED_BYTES = 32


def generate_callout_secret() -> str:
    """A Call Out secret strong enough to verify with (``connector keys callout-secret``)."""
    return secrets.token_urlsafe(_GENERATED_BYTES)


def weakness(value: str, *, verified: bool) -> str | None:
    """Why ``value`` cannot be stored, never quoting it; None when it can.

    ``verified``: the connector checks what others present against it, so it needs the length.
    """
    if not value.strip():
        return "is empty"
    if verified and len(value) < MIN_VERIFIED_LENGTH:
        return (
            f"is shorter than {MIN_VERIFIED_LENGTH} characters; "
            "`connector keys callout-secret` prints a strong one"
        )
    return None
