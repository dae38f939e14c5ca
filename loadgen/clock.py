"""Time: a real clock on perf_counter_ns, and a fake clock that makes executor tests exact.

uvloop's loop.time() has millisecond resolution and its timers may fire early, so latency and
schedules use perf_counter_ns; `sleep_until` re-checks after waking and never returns early.

The fake clock jumps to the next timer whenever every task is blocked (trio's "autojump"), so a
one-minute schedule runs in milliseconds and start times are exact.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from loadgen import wakeup

T = TypeVar("T")
SPIN_NS = 100_000  # the last 0.1 ms of a wait are spun out with yields...
SPIN_SHARE = 0.25  # ...while spinning has taken at most this share of the wall time
SPIN_WINDOW_NS = 100_000_000  # the share is counted over windows of 0.1 s
PRECISE_NS = 3_000_000  # with a timerfd: the last 3 ms of a wait are slept on it


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep_until(self, t_ns: int) -> None: ...

    async def sleep(self, seconds: float) -> None: ...


async def wait_first(clock: Clock, deadline_ns: int | None, *events: Awaitable[Any]) -> None:
    """Wait until the first of `events` is done or `clock` reaches `deadline_ns` (None: no
    deadline), whichever comes first.

    The one place the "an event or a timer" race is written, so every caller cancels what it
    started. Coroutines passed here (e.g. `event.wait()`) are wrapped in tasks and cancelled
    when the wait ends; futures and tasks passed in belong to the caller and keep running
    (e.g. a socket reader). The timer sleeps on `clock`, so a FakeClock drives it too.
    """
    waits: set[asyncio.Future[Any]] = set()
    ours: list[asyncio.Future[Any]] = []
    for ev in events:
        if asyncio.isfuture(ev):
            waits.add(ev)
        else:
            fut = asyncio.ensure_future(ev)
            ours.append(fut)
            waits.add(fut)
    if deadline_ns is not None:
        ours.append(asyncio.ensure_future(clock.sleep_until(deadline_ns)))
        waits.add(ours[-1])
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for mine in ours:
            mine.cancel()


class RealClock:
    """perf_counter_ns with sleeps that never wake early."""

    __slots__ = ("_window", "_spun", "_loop", "_waker")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop _waker belongs to
        self._waker: wakeup.Waker | None = None  # None: no timerfd, tick and spin
        self._window = 0  # start of the current spin-accounting window
        self._spun = 0  # ns spent in spin yields in this window

    #: the C function itself, not a method around it: a builtin is not bound to the
    #: instance, so `clock.now_ns()` costs no Python frame (it runs 5-8 times per iteration)
    now_ns = staticmethod(time.perf_counter_ns)

    async def sleep_until(self, t_ns: int) -> None:
        """Never returns early, rarely more than a millisecond late, and spins little.

        Where the loop can watch a timerfd (Linux, wakeup.py), the last PRECISE_NS of a wait
        are slept on it, to the nanosecond; anything longer first sleeps on the loop's own
        millisecond timer until PRECISE_NS before the deadline (so the timerfd's heap only
        ever holds the next few milliseconds). No spinning.

        Elsewhere the loop's timers are millisecond-grained (they may fire up to 1 ms early,
        and a shorter timer fires at the next tick): waits longer than SPIN_NS go through a
        timer of at least one tick; the last SPIN_NS are finished with plain yields, as long
        as those yields have taken at most SPIN_SHARE of the current window. Without that
        budget, at 10,000 starts/s every gap is within SPIN_NS and the spin ate the whole
        core (83 us of CPU per no-op iteration instead of 13, and the saturation watch cried
        wolf); with it, starts past the budget wait for the next tick instead, and the starts
        that fall due meanwhile go out together when it fires.
        """
        delta = t_ns - time.perf_counter_ns()
        if delta <= 0:
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._waker = loop, wakeup.waker()
        waker = self._waker
        if waker is not None:
            while delta > PRECISE_NS:
                await asyncio.sleep((delta - PRECISE_NS) / 1e9)
                delta = t_ns - time.perf_counter_ns()
            if delta > 0:
                await waker.wait(t_ns)  # resolved at t_ns or after, never before
            return
        while delta > 0:
            now = t_ns - delta
            if delta > SPIN_NS or not self._may_spin(now):
                await asyncio.sleep(max(delta / 1e9, 0.001))
            else:
                await asyncio.sleep(0)
                self._spun += time.perf_counter_ns() - now
            delta = t_ns - time.perf_counter_ns()

    def _may_spin(self, now: int) -> bool:
        if now - self._window >= SPIN_WINDOW_NS:
            self._window, self._spun = now, 0
            return True
        return self._spun <= SPIN_SHARE * (now - self._window)

    async def sleep(self, seconds: float) -> None:
        """Think time (vu.sleep): millisecond precision is plenty, and costs no spinning."""
        await asyncio.sleep(max(seconds, 0))


class FakeClock:
    """Virtual time. Drive a coroutine with `run(coro)`: time advances only when all is idle."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    async def sleep_until(self, t_ns: int) -> None:
        if t_ns <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (t_ns, next(self._seq), fut))
        await fut

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + round(seconds * 1e9))

    def pause(self, seconds: float) -> None:
        """Time passes at once with nobody running, as when the process is stopped (a long
        collector pass, SIGSTOP): every wait due meanwhile wakes late, as real ones would."""
        self._now += round(seconds * 1e9)

    def _advance(self) -> bool:
        """Jump to the earliest live timer and wake everything due then. False if none."""
        while self._timers and self._timers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._timers)
        if not self._timers:
            return False
        self._now = max(self._now, self._timers[0][0])
        while self._timers and self._timers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._timers)
            if not fut.done():
                fut.set_result(None)
        return True

    async def _idle(self) -> bool:
        """Yield until no other callback is ready; False if progress never stalls."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        for _ in range(10_000):
            await asyncio.sleep(0)
            if ready is not None and len(ready) == 0:
                return True
        return ready is None

    async def run(self, aw: Awaitable[T], *, max_jumps: int = 10_000_000) -> T:
        """Run `aw` to completion under virtual time (needs the default asyncio loop)."""
        task = asyncio.ensure_future(aw)
        for _ in range(max_jumps):
            if task.done():
                return task.result()
            await self._idle()
            if task.done():
                return task.result()
            if not self._advance():
                # Nothing scheduled on the fake clock: the task waits on something real.
                await asyncio.sleep(0.001)
        task.cancel()
        raise RuntimeError("FakeClock.run: too many time jumps (a loop that never ends?)")
