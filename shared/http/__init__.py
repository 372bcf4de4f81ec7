"""HTTP building blocks shared by the Coupa and Deltek clients: errors, backoff, limits, paging."""

from __future__ import annotations

from shared.http.backoff import Backoff, RetryPolicy, call_with_retries, parse_retry_after
from shared.http.errors import (
    FatalError,
    HttpError,
    RedirectRefusedError,
    ResponseTooLargeError,
    RetriableError,
    classify_status,
    error_for_status,
)
from shared.http.paging import OffsetPaginator, PagingLoopError
from shared.http.ratelimit import TokenBucket

__all__ = [
    "Backoff",
    "FatalError",
    "HttpError",
    "OffsetPaginator",
    "PagingLoopError",
    "RedirectRefusedError",
    "ResponseTooLargeError",
    "RetriableError",
    "RetryPolicy",
    "TokenBucket",
    "call_with_retries",
    "classify_status",
    "error_for_status",
    "parse_retry_after",
]
