"""The bounds every HTTP transport enforces, and the one message each breach reports.

A load generator talks to servers under test, some broken and some hostile: a body that
never ends, a gzip bomb, an endless stream of `102 Processing`, a header block of megabytes.
Both transports stop at the same limits with the same code and message, so a dashboard
cannot tell which transport ran, and no single response can take the generator's memory or
CPU away from the other VUs.
"""

from __future__ import annotations

from loadgen.net import errors as neterr

#: per response, on the wire and after decompression (0 = no cap); k6 has none, a
#: streamed body grew one VU to 1.8 GB in 6 s
DEFAULT_MAX_RESPONSE_BYTES = 64 << 20
#: informational (1xx) responses accepted before the final one (Go's http.Transport: 5)
MAX_INFORMATIONAL = 5
#: status line + header lines of one response
MAX_HEADER_BYTES = 1 << 20
#: header lines of one response
MAX_HEADERS = 10_000


def body_too_large(cap: int, *, decompressed: bool = False) -> tuple[int, str]:
    what = "decompressed response body" if decompressed else "response body"
    return neterr.RESPONSE_TOO_LARGE, f"{what} larger than max_response_bytes ({cap})"


def too_many_informational() -> tuple[int, str]:
    """Go's own words for the same breach."""
    return neterr.DEFAULT, "net/http: too many 1xx informational responses"


def headers_too_large() -> tuple[int, str]:
    return neterr.MALFORMED_RESPONSE, (
        f"server response headers exceeded {MAX_HEADER_BYTES} bytes; aborted")


def too_many_headers() -> tuple[int, str]:
    return neterr.MALFORMED_RESPONSE, (
        f"server response has more than {MAX_HEADERS} header lines; aborted")

