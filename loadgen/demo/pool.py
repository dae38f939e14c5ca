"""The storage connection pool: N connections, a bounded wait for one, and the exhaust fault.

Why a pool in an in-memory service: real backends fail under load by running out of
database connections long before they run out of CPU, and the nightly plans test exactly
that (pool exhaustion, the breaker that must open and close again). Every storage request
holds one connection for its whole handling; waiting for a free one is bounded in time
(`timeout_s`: then `PoolTimeout`) and in number (`max_waiters`: beyond it the request fails
at once, so a stalled pool cannot queue unbounded work).

The `exhaust` fault is a holder task that takes every connection (waiting for the ones in
use to come back) and keeps them until the fault ends; `query_ms` makes each request hold
its connection longer, as slow queries do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable


class PoolTimeout(Exception):
    """No connection within the deadline (or too many already waiting)."""


class StoragePool:
    def __init__(
        self,
        size: int,
        timeout_s: float,
        *,
        max_waiters: int = 1000,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.size = max(1, size)
        self.timeout_s = max(0.0, timeout_s)
        self.max_waiters = max_waiters
        self._sem = asyncio.Semaphore(self.size)
        self._on_change = on_change
        self.in_use = 0
        self.waiting = 0
        self.held = 0  # connections taken by the exhaust fault
        self.query_s = 0.0
        self._holder: asyncio.Task[None] | None = None

    def _changed(self, delta: int) -> None:
        self.in_use += delta
        if self._on_change is not None:
            self._on_change(self.in_use)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """Hold one connection for the block; PoolTimeout if none comes in time."""
        if self.waiting >= self.max_waiters:
            raise PoolTimeout(f"{self.waiting} requests already wait for a connection")
        if self._sem.locked():  # none free: wait, bounded (a free one needs no timer)
            self.waiting += 1
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self._sem.acquire()
            except TimeoutError as exc:
                raise PoolTimeout(f"no storage connection within {self.timeout_s:g} s") from exc
            finally:
                self.waiting -= 1
        else:
            await self._sem.acquire()
        self._changed(1)
        try:
            if self.query_s > 0:
                await asyncio.sleep(self.query_s)
            yield
        finally:
            self._changed(-1)
            self._sem.release()

    # -- the exhaust fault -------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        return self._holder is not None

    def exhaust(self) -> None:
        if self._holder is None:
            self._holder = asyncio.create_task(self._hold_all(), name="demo-pool-exhaust")

    async def _hold_all(self) -> None:
        while self.held < self.size:  # waits for the connections in use to come back
            await self._sem.acquire()
            self.held += 1
            self._changed(1)
        await asyncio.Event().wait()  # until the fault ends (cancelled)

    def restore(self) -> None:
        """End the exhaust fault: give every held connection back."""
        if self._holder is not None:
            self._holder.cancel()
            self._holder = None
        while self.held:
            self.held -= 1
            self._changed(-1)
            self._sem.release()

    async def close(self) -> None:
        holder = self._holder
        self.restore()
        if holder is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await holder
