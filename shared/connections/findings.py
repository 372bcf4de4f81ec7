"""What one check of ``connector connections test`` found, in words for the person running it.

Kept apart from the checks so the Coupa and Deltek checks (``diagnose``) and the tenant probes
(``tenant``) report alike without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ASSUMED: the API cannot show the setting, so the finding says what the connector takes it to
# be; it is not a problem, but someone has to confirm it in Vantagepoint.
Status = Literal["OK", "PROBLEM", "ASSUMED", "SKIPPED"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str
    hint: str = ""


def skipped(check: str, reason: str = "needs a token first") -> Finding:
    return Finding(check, "SKIPPED", f"not run: {reason}")
