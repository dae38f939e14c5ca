"""Sub-millisecond wake-ups for the event loop: one Linux timerfd per loop, armed to the
earliest waiter, watched by the loop like a socket.

Why: uvloop's (libuv's) timers count in whole milliseconds and read a clock cached per loop
pass, so a start due in 0.1 ms sleeps a tick or more. Measured on this project's 2-core
machine (2026-12-03, one process pinned to a core, 10,000 starts/s for 5 s and nothing else):
waiting with `asyncio.sleep` left starts 0.6 ms late at the median, 2.6-3.7 ms at p99 and up
to 20 ms at worst; a blocking hrtimer sleep of the same gaps, 0.06 / 0.07-0.14 / 1-4 ms. The
earlier cure, spinning the last 0.1 ms of a wait with loop yields, cost up to a quarter of
the core and, once its budget was spent, fell back to the tick: an open-model run at
10,000/s measured `iteration_lag` p99 17-48 ms in a noisy hour (a vCPU left idle between
ticks is slow to come back), 3.4 ms with the loop kept busy. A timerfd wakes the loop's
epoll at the nanosecond asked (plus the kernel's 50 us timer slack) and costs two system
calls per wake, no spinning.

Where there is no timerfd (not Linux, or no libc through ctypes) `available()` is False and
the clock keeps its tick-and-spin wait.
"""

from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import os
import sys
import weakref
from time import perf_counter_ns
from typing import Any

CLOCK_MONOTONIC = 1  # what time.perf_counter_ns reads on Linux
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
#: at most one wake per this many ns (4,000/s): a wake costs ~10-20 us of CPU (epoll, two
#: system calls, the callbacks), so at 10,000 starts/s one wake per start cost ~11 us of CPU
#: per HTTP request more than the tick it replaced; two or three starts per wake keep the
#: lag a fraction of a millisecond
MIN_GAP_NS = 250_000


#: struct itimerspec as four longs: interval (sec, nsec), value (sec, nsec); an array's
#: items are set in C, a nested Structure's fields through two Python-level lookups
_Itimerspec = ctypes.c_long * 4


def _load() -> Any:
    """libc's timerfd calls, or None where they cannot be had."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    create.argtypes = [ctypes.c_int, ctypes.c_int]
    create.restype = ctypes.c_int
    settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    settime.restype = ctypes.c_int
    return libc


_LIBC = _load()
_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Waker] = (
    weakref.WeakKeyDictionary())


def available() -> bool:
    return _LIBC is not None


def waker() -> Waker | None:
    """The running loop's waker, made on first use; None where there is no timerfd (or the
    loop cannot watch one)."""
    if _LIBC is None:
        return None
    loop = asyncio.get_running_loop()
    w = _WAKERS.get(loop)
    if w is None:
        try:
            w = Waker(loop)
        except OSError:
            return None
        _WAKERS[loop] = w
    return w


class Waker:
    """Waiters in a heap by deadline (perf_counter_ns), the timerfd armed to the earliest.

    A cancelled waiter stays in the heap until its deadline passes (its future is done, so
    waking it is a no-op): callers only bring short waits here (RealClock's last
    milliseconds), so what the heap holds is bounded by what starts in that window."""

    __slots__ = ("loop", "fd", "heap", "seq", "armed", "earliest", "spec", "settime",
                 "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        assert _LIBC is not None
        fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.loop = loop
        self.fd = fd
        self.heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self.seq = itertools.count()
        self.armed = 0  # the deadline the timer is set to; 0: disarmed
        self.earliest = 0  # no wake before this: the last one + MIN_GAP_NS
        self.spec = _Itimerspec()
        self.settime = _LIBC.timerfd_settime
        try:
            loop.add_reader(fd, self._fire)
        except BaseException:
            os.close(fd)
            raise
        weakref.finalize(loop, os.close, fd)

    def wait(self, t_ns: int) -> asyncio.Future[None]:
        """A future resolved at t_ns (perf_counter_ns), never before."""
        fut = self.loop.create_future()
        heapq.heappush(self.heap, (t_ns, next(self.seq), fut))
        at = t_ns if t_ns > self.earliest else self.earliest
        if not self.armed or at < self.armed:
            self._arm(at)
        return fut

    def _arm(self, t_ns: int) -> None:
        spec = self.spec
        spec[2], spec[3] = divmod(t_ns, 1_000_000_000)
        if self.settime(self.fd, TFD_TIMER_ABSTIME, spec, None):
            # cannot happen with a valid fd and a non-negative time; fall back to the loop's
            # own timer rather than leave waiters asleep
            self.loop.call_later(max((t_ns - perf_counter_ns()) / 1e9, 0.001), self._fire)
        self.armed = t_ns

    def _fire(self) -> None:
        try:  # noqa: SIM105 - a try is free when nothing raises, suppress() is a call
            os.read(self.fd, 8)  # the expiry count: reading re-enables the level trigger
        except (BlockingIOError, InterruptedError):
            pass
        now = perf_counter_ns()
        self.earliest = now + MIN_GAP_NS
        heap = self.heap
        while heap and heap[0][0] <= now:
            fut = heapq.heappop(heap)[2]
            if not fut.done():
                fut.set_result(None)
        while heap and heap[0][2].done():  # cancelled waiters at the front
            heapq.heappop(heap)
        if heap:
            t = heap[0][0]
            self._arm(t if t > self.earliest else self.earliest)
        else:
            self.armed = 0
