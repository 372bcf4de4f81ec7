"""The two kinds of HTTP failure every client sorts into: retriable (try again later) and fatal."""

from __future__ import annotations

# 408 and 425 mean "too early / too slow, same request may succeed later"; 429 is throttling.
_RETRIABLE_4XX = frozenset({408, 425, 429})


def classify_status(status: int) -> bool:
    """Return True when a request that got ``status`` may succeed if sent again unchanged."""
    return status >= 500 or status in _RETRIABLE_4XX


class HttpError(Exception):
    """A request failed; ``status`` is None when no HTTP answer arrived (network error)."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail if status is None else f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class RetriableError(HttpError):
    """Sending the same request again later may succeed (429, 5xx, timeouts, resets)."""

    def __init__(
        self, detail: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after


class FatalError(HttpError):
    """Sending the same request again will fail the same way (other 4xx, validation, auth)."""


def error_for_status(
    status: int, detail: str, *, retry_after: float | None = None
) -> RetriableError | FatalError:
    """Build the right error kind for an unsuccessful HTTP status."""
    if classify_status(status):
        return RetriableError(detail, status=status, retry_after=retry_after)
    return FatalError(detail, status=status)
