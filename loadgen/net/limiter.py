"""k6's global `--rps` limit (here `--rps-limit`): one token bucket, burst 1, shared by all
VUs; a request waits for its token before it is sent, outside the request's timings."""

from __future__ import annotations

from loadgen.clock import Clock


class RateLimiter:
    def __init__(self, rps: float, clock: Clock) -> None:
        if rps <= 0:
            raise ValueError("rps limit must be > 0")
        self.interval_ns = round(1e9 / rps)
        self.clock = clock
        self.next_ns = 0

    async def wait(self) -> None:
        now = self.clock.now_ns()
        slot = max(self.next_ns, now)
        self.next_ns = slot + self.interval_ns
        if slot > now:
            await self.clock.sleep_until(slot)
