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


class RedirectRefusedError(FatalError):
    """The API answered with a redirect, which we never follow.

    Following one would send the request (a token request's form holds the client secret or
    password; an API call carries the bearer) somewhere nobody configured. Neither Coupa nor
    Deltek documents redirects, so one means a wrong base URL: fixing it takes a person, so
    asking again cannot help.
    """


class ResponseTooLargeError(FatalError):
    """An answer exceeded the configured size bound and was not read to the end.

    Asking again brings the same answer: the bound is a setting to raise, not a transient fault.
    """

    def __init__(self, detail: str, *, status: int, limit: int) -> None:
        super().__init__(detail, status=status)
        self.limit = limit
