"""What the API clients accept from an answer: never a redirect, never more than a bound.

Every request of the Coupa and Deltek clients is sent with ``allow_redirects=False`` and read
through ``read_answer``. Refusing every redirect, rather than following those that stay on the
same origin, keeps one rule that needs no exceptions: a token form (client secret, password) or
a bearer token only ever goes to the origin of the configured base URL, and every answer we act
on comes from there. Neither API documents a redirect, so one means a base URL to correct once
(a missing slash, ``http`` where only ``https`` is served), not a round trip to pay per call.

The bound is enforced while the body streams in, so a huge or endless answer costs at most the
bound in memory and stops as soon as it is crossed; a declared ``Content-Length`` over the bound
is refused before reading anything.
"""

from __future__ import annotations

import aiohttp
from aiohttp import hdrs
from yarl import URL

from shared.http.errors import RedirectRefusedError, ResponseTooLargeError

# An index page (50 Coupa invoices or POs with their lines, 100 Deltek rows) is well under this;
# a bigger answer is a misbehaving server or a setting to raise.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A token answer is a JWT of a few KiB even with many scopes (coupa-api.md §1).
DEFAULT_MAX_TOKEN_RESPONSE_BYTES = 64 * 1024


async def read_answer(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body of ``response``, refusing a redirect and any body over ``limit`` bytes."""
    if 300 <= response.status < 400:
        raise RedirectRefusedError(
            f"{_what(response)} answered {response.status}, a redirect to "
            f"{_location_origin(response)}; redirects are never followed, so requests and "
            f"credentials go only to {response.url.origin()}: check the base URL",
            status=response.status,
        )
    # Content-Length counts bytes on the wire; decoded, a compressed body is another size, so
    # only an uncompressed one is judged by it (the streaming bound below catches the rest).
    declared = response.content_length
    if declared is not None and declared > limit and hdrs.CONTENT_ENCODING not in response.headers:
        raise _too_large(response, limit)
    chunks: list[bytes] = []
    size = 0
    # Asking for one byte past the bound tells "exactly the bound" from "over it".
    while chunk := await response.content.read(limit + 1 - size):
        size += len(chunk)
        if size > limit:
            raise _too_large(response, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _what(response: aiohttp.ClientResponse) -> str:
    return f"{response.method} {response.url.path}"


def _too_large(response: aiohttp.ClientResponse, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{_what(response)} answered more than {limit} bytes, the configured bound, so it "
        "was not read to the end",
        status=response.status,
        limit=limit,
    )


def _location_origin(response: aiohttp.ClientResponse) -> str:
    """Where the redirect points, as an origin only: its path or query may carry anything."""
    location = response.headers.get(hdrs.LOCATION)
    if location is None:
        return "no Location"
    try:
        return str(response.url.join(URL(location)).origin())
    except ValueError:
        return "an unreadable Location"
