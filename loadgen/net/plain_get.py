"""The plain GET in C (`_get.c`), where it was built: `vu.http.get(url)` with no options,
from the pooled connection to the record and the Response, as one awaitable.

Its Python twin is the client's own `request("GET", url)`: the C path does the request
itself only in the plain case (see `_get.c`) and hands everything else to that coroutine,
so both give the same responses, records, counters and pool state
(tests/net/test_plain_get.py runs them side by side). It applies to a client whose
transport is the fast one and whose clock is the real one (the C reads perf_counter_ns as
RealClock.now_ns does); LOADGEN_NO_EXTENSIONS=1 (read at import) turns it off.

Why: after the connection's read path and the object makers went to C, the client's
`request` coroutine, the transport's `exchange` coroutine and the record were ~510 of
~800 bytecodes of an HTTP iteration and two of the five coroutine frames each response
resumes (benchmarks/bench_instructions.py has the before and after).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from loadgen import extensions
from loadgen.clock import RealClock
from loadgen.metrics.model import HTTP
from loadgen.metrics.registry import Recorder
from loadgen.net.conn_core import IMPLEMENTATION, Core
from loadgen.net.cookies import CookieJar
from loadgen.net.fast import _RETRY_CODES, FastTransport, _error
from loadgen.net.fast_headers import make_raw_headers
from loadgen.net.fast_pool import ConnectionPool
from loadgen.net.fast_request import _CACHE, Head
from loadgen.net.meter import Meter
from loadgen.net.types import Timings, make_raw_response, make_response

_C = extensions.load("loadgen.net._get") if IMPLEMENTATION == "c" else None

#: get(client, url) -> the awaitable Response
PlainGet = Callable[[Any, str], Coroutine[Any, Any, Any]]


def enable(client_cls: type, k6_expected: object, is_expected: Callable[..., bool],
           interrupted: Callable[[float], Any],
           base_headers: Sequence[tuple[str, str]]) -> PlainGet | None:
    """The C get() set up for `client_cls` (net/client.HttpClient and the rest of its
    module, passed in to keep the import one way), or None where it was not built."""
    if _C is None:
        return None
    _C.setup({
        "HttpClient": client_cls, "Meter": Meter, "CookieJar": CookieJar,
        "Recorder": Recorder, "ConnectionPool": ConnectionPool, "Head": Head, "Core": Core,
        "head_cache": _CACHE, "base_headers": tuple(base_headers),
        "K6_EXPECTED": k6_expected, "is_expected": is_expected, "interrupted": interrupted,
        "error": _error, "make_raw_headers": make_raw_headers,
        "make_raw_response": make_raw_response, "make_response": make_response,
        "HTTP": HTTP, "retry_codes": _RETRY_CODES, "CancelledError": asyncio.CancelledError,
        "Timings": Timings,
    })
    get: PlainGet = _C.get
    return get


def applies(transport: object, meter: Meter) -> bool:
    """Whether a client with this transport and meter may take the C path."""
    return (_C is not None and type(transport) is FastTransport
            and type(meter.clock) is RealClock)
