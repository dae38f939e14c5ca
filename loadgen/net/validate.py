"""What makes a request unsendable, judged the same way for every transport.

A scenario can build any URL and header; a bad one must come back as an error sample (k6's
code and message), never as an exception out of `vu.http`, and it must read the same
whichever transport was chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from loadgen.net import errors as neterr


def url_problem(url: str) -> tuple[int, str] | None:
    """k6's 1020 for a URL that does not parse (a port out of range, a bad IPv6 literal)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as e:
        return neterr.INVALID_URL, f"invalid URL {url[:200]!r}: {e}"
    if not parts.hostname:
        return neterr.INVALID_URL, f"invalid URL {url[:200]!r}: no host"
    return None


def header_problem(headers: Iterable[tuple[str, str]]) -> tuple[int, str] | None:
    """Go's net/http refuses a header name with separators or a value with CR, LF or NUL
    (they would split the request: header injection); k6 reports it with code 1000."""
    for k, v in headers:
        if not k or any(c in k for c in ":\r\n\0 \t"):
            return neterr.DEFAULT, f"net/http: invalid header field name {k[:100]!r}"
        if any(c in v for c in "\r\n\0"):
            return neterr.DEFAULT, f"net/http: invalid header field value for {k[:100]!r}"
    return None
