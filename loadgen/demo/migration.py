"""A schema migration that holds the write lock for a while (the migration fault).

Why: "deploy a migration under load" is a nightly test; what users see is writes stalling
behind a lock. Here writes wait for the lock to be released, each up to its deadline
(`write_timeout_s`), then answer 503 with Retry-After; reads never wait. The lock ends by
itself after `lock_s` (or when the fault is cleared), and waiting is bounded in number too:
beyond `max_waiters` a write is refused at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class SchemaMigration:
    def __init__(
        self, *, max_waiters: int = 1000, on_change: Callable[[bool], None] | None = None
    ) -> None:
        self.max_waiters = max_waiters
        self._on_change = on_change
        self._done = asyncio.Event()
        self._done.set()
        self._timer: asyncio.TimerHandle | None = None
        self._until = 0.0
        self.write_timeout_s = 1.0
        self.waiting = 0

    @property
    def in_progress(self) -> bool:
        return not self._done.is_set()

    @property
    def remaining_s(self) -> float:
        return max(0.0, self._until - time.monotonic()) if self.in_progress else 0.0

    def start(self, lock_s: float, write_timeout_s: float) -> None:
        """A new migration (one under way ends first): the write lock for `lock_s`."""
        self.finish()
        self.write_timeout_s = write_timeout_s
        if lock_s <= 0:
            return
        self._done = asyncio.Event()
        self._until = time.monotonic() + lock_s
        self._timer = asyncio.get_running_loop().call_later(lock_s, self.finish)
        if self._on_change is not None:
            self._on_change(True)

    def finish(self) -> None:
        """Release the lock (the waiting writes go on at once)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._done.is_set():
            self._done.set()
            if self._on_change is not None:
                self._on_change(False)

    async def writable(self) -> bool:
        """Wait for the write lock (≤ write_timeout_s); False if it was not released."""
        if self._done.is_set():
            return True
        if self.waiting >= self.max_waiters:
            return False
        self.waiting += 1
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await self._done.wait()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True
