"""wakeup.Waker, the timerfd the clock's last milliseconds sleep on, on a real loop: waiters
wake in deadline order and never early, cancelled ones are dropped without waking the rest
late, and each loop gets its own."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
import uvloop

from loadgen import wakeup

pytestmark = pytest.mark.skipif(not wakeup.available(), reason="no timerfd on this platform")


async def test_waiters_wake_in_order_and_never_early():
    w = wakeup.waker()
    assert w is not None
    rng = random.Random(7)
    now = time.perf_counter_ns()
    deadlines = [now + rng.randrange(50_000, 3_000_000) for _ in range(200)]
    woke: list[tuple[int, int]] = []

    async def sleeper(t: int) -> None:
        await w.wait(t)
        woke.append((t, time.perf_counter_ns()))

    await asyncio.wait_for(asyncio.gather(*(sleeper(t) for t in deadlines)), 5)
    assert all(at >= t for t, at in woke), "a waiter woke before its deadline"
    assert [t for t, _ in woke] == sorted(deadlines)
    assert not w.heap and not w.armed


async def test_cancelled_waiters_are_dropped_and_the_rest_still_wake():
    w = wakeup.waker()
    assert w is not None
    now = time.perf_counter_ns()
    early = [w.wait(now + 1_000_000 + k) for k in range(5)]
    late = w.wait(now + 2_000_000)
    for f in early:
        f.cancel()
    await asyncio.wait_for(late, 5)
    assert time.perf_counter_ns() >= now + 2_000_000
    assert not w.heap and not w.armed


async def test_an_earlier_waiter_rearms_the_timer():
    w = wakeup.waker()
    assert w is not None
    now = time.perf_counter_ns()
    far = w.wait(now + 2_000_000_000)
    near = w.wait(now + 1_000_000)
    assert w.armed == now + 1_000_000
    await asyncio.wait_for(near, 5)
    assert not far.done() and w.armed == now + 2_000_000_000
    far.cancel()


async def test_the_same_loop_shares_one_waker():
    assert wakeup.waker() is wakeup.waker()


def test_each_loop_has_its_own_timerfd():
    async def own() -> wakeup.Waker:
        w = wakeup.waker()
        assert w is not None and w.loop is asyncio.get_running_loop()
        await w.wait(time.perf_counter_ns() + 100_000)
        return w

    first = uvloop.run(own())
    second = asyncio.run(own())
    assert first is not second and first.loop is not second.loop


async def test_wakes_are_at_least_min_gap_apart_and_still_never_early():
    # 40 waiters 50 us apart (2 ms): one wake each would be 40 wakes; with MIN_GAP_NS
    # (0.25 ms) the ones due meanwhile go out together, none before its deadline
    w = wakeup.waker()
    assert w is not None
    now = time.perf_counter_ns() + 500_000
    deadlines = [now + k * 50_000 for k in range(40)]
    wakes: list[int] = []
    woke: list[tuple[int, int]] = []

    async def sleeper(t: int) -> None:
        await w.wait(t)
        woke.append((t, time.perf_counter_ns()))
        wakes.append(w.earliest)  # set once per wake: waiters of one wake share it

    await asyncio.wait_for(asyncio.gather(*(sleeper(t) for t in deadlines)), 5)
    assert all(at >= t for t, at in woke), "a waiter woke before its deadline"
    span = deadlines[-1] - deadlines[0]
    assert len(set(wakes)) <= span // wakeup.MIN_GAP_NS + 2, sorted(set(wakes))
