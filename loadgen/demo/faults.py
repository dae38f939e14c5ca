"""Fault injection: the knobs that make a load test's failure paths observable.

One `FaultInjector` per app holds the active `Faults`, a seeded RNG and the "every Nth"
counters. HTTP faults run in a middleware before the handler; WebSocket faults are asked
for by the delivery and echo code (`drop()`, `corrupt_*()`, `close_code`). Closing
sockets when a close fault is switched on needs the live socket set, so the caller of
`replace()` does that part (see admin.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from loadgen.demo.config import Faults
from loadgen.demo.jsonio import error_response

EXEMPT_PREFIXES = ("/admin/", "/metrics")


class FaultInjector:
    def __init__(
        self,
        faults: Faults,
        rng: random.Random,
        on_inject: Callable[[str], None] | None = None,
    ) -> None:
        self._rng = rng
        self._on_inject = on_inject
        self._release = asyncio.Event()
        self.faults = Faults()
        self.active = False
        self._stall_until = 0.0
        self._deliveries = 0
        self._frames = 0
        self.replace(faults)

    def replace(self, faults: Faults) -> None:
        """Activate a new fault set; restarts counters and any stall, frees stalled requests."""
        self.faults = faults
        self.active = faults.active  # read per request; comparing dataclasses is not free
        self._deliveries = 0
        self._frames = 0
        self._release.set()
        self._release = asyncio.Event()
        self._stall_until = time.monotonic() + faults.stall_seconds if faults.stall_seconds else 0.0

    def snapshot(self) -> dict[str, object]:
        out = self.faults.to_dict()
        out["stall_remaining_s"] = round(max(0.0, self._stall_until - time.monotonic()), 3)
        return out

    def _count(self, kind: str) -> None:
        if self._on_inject is not None:
            self._on_inject(kind)

    # -- HTTP ------------------------------------------------------------------------
    def applies_to(self, path: str) -> bool:
        if path.startswith(EXEMPT_PREFIXES):
            return False
        paths = self.faults.paths
        return not paths or path.startswith(paths)

    async def before_request(self) -> int | None:
        """Stall, then add latency, then maybe pick an error status to answer with."""
        f = self.faults
        remaining = self._stall_until - time.monotonic()
        if remaining > 0:
            self._count("stall")
            release = self._release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), remaining)
        if f.latency_ms > 0:
            self._count("latency")
            await asyncio.sleep(f.latency_ms / 1000.0)
        if f.error_rate > 0 and self._rng.random() < f.error_rate:
            self._count("error")
            return f.error_status
        return None

    # -- WebSocket -------------------------------------------------------------------
    def drop(self) -> bool:
        """Should this delivery be lost? Counts every delivery attempt for `drop_every`."""
        f = self.faults
        self._deliveries += 1
        dropped = (f.drop_every > 0 and self._deliveries % f.drop_every == 0) or (
            f.drop_rate > 0 and self._rng.random() < f.drop_rate
        )
        if dropped:
            self._count("drop")
        return dropped

    def _corrupt_this_frame(self) -> bool:
        f = self.faults
        if not (f.corrupt_every or f.corrupt_rate):
            return False
        self._frames += 1
        hit = (f.corrupt_every > 0 and self._frames % f.corrupt_every == 0) or (
            f.corrupt_rate > 0 and self._rng.random() < f.corrupt_rate
        )
        if hit:
            self._count("corrupt")
        return hit

    def corrupt_text(self, text: str) -> str:
        """Flip the low bit of the middle character (stays valid UTF-8, always differs)."""
        if not text or not self._corrupt_this_frame():
            return text
        i = len(text) // 2
        return text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1 :]

    def corrupt_bytes(self, data: bytes) -> bytes:
        """Invert every bit of the middle byte."""
        if not data or not self._corrupt_this_frame():
            return data
        i = len(data) // 2
        return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]

    @property
    def close_code(self) -> int | None:
        return self.faults.close_code


def fault_middleware(get_injector: Callable[[web.Request], FaultInjector]) -> Middleware:
    """Middleware applying HTTP faults; injected errors are JSON like every other error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        injector = get_injector(request)
        if injector.active and injector.applies_to(request.path):
            status = await injector.before_request()
            if status is not None:
                return error_response(status, "injected fault")
        return await handler(request)

    return middleware
