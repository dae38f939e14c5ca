"""Trace ids sent with each HTTP request (`--trace-header [NAME]`), so the slowest requests
of a run can be found in the target's traces and logs.

`traceparent` (the default) gets a W3C Trace Context value, `00-<32 hex trace id>-<16 hex
parent id>-01` (sampled), fresh per request; any other header name gets a bare 32-hex id.
The ids come from `random.getrandbits` (not a secret: only unique enough to search for).
"""

from __future__ import annotations

import re
from random import getrandbits

from loadgen.errors import ConfigError

W3C = "traceparent"
_LOW_BITS = (1 << 64) | 1  # the trace id's and the parent id's lowest bits
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


class TraceIds:
    __slots__ = ("header", "lower", "w3c")

    def __init__(self, header: str = W3C) -> None:
        if not _TOKEN.match(header or ""):
            raise ConfigError(f"--trace-header {header!r}: not a valid HTTP header name "
                              "(letters, digits and !#$%&'*+.^_`|~- only)")
        self.header = header
        self.lower = header.lower()
        self.w3c = self.lower == W3C

    def new(self) -> tuple[str, str]:
        """(header value, trace id) for one request: one random draw, formatted once; the
        low bit of each id is set, since an all-zero trace or parent id is invalid (W3C)."""
        if self.w3c:
            h = f"{getrandbits(192) | _LOW_BITS:048x}"
            return f"00-{h[:32]}-{h[32:]}-01", h[:32]
        tid = f"{getrandbits(128) | 1:032x}"
        return tid, tid
