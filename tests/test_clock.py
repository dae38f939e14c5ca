"""clock.wait_first on the fake clock: the event wins, the deadline wins, the caller's own
futures keep running, and nothing is left behind."""

from __future__ import annotations

import asyncio

from loadgen.clock import FakeClock, wait_first

MS = 1_000_000


async def test_the_deadline_wins_on_virtual_time():
    clock = FakeClock()
    event = asyncio.Event()

    async def body() -> int:
        await wait_first(clock, 250 * MS, event.wait())
        return clock.now_ns()

    assert await clock.run(body()) == 250 * MS
    assert not clock._advance()  # the event waiter was cancelled, no timer left behind


async def test_the_event_wins_and_the_timer_is_cancelled():
    clock = FakeClock()
    event = asyncio.Event()

    async def setter() -> None:
        await clock.sleep(0.1)
        event.set()

    async def body() -> int:
        task = asyncio.ensure_future(setter())
        await wait_first(clock, 10_000 * MS, event.wait())
        await task
        return clock.now_ns()

    assert await clock.run(body()) == 100 * MS
    assert not clock._advance()  # the 10 s timer is gone


async def test_a_future_passed_in_is_the_callers_and_keeps_running():
    clock = FakeClock()

    async def body() -> tuple[bool, int]:
        reader = asyncio.ensure_future(clock.sleep(1.0))
        await wait_first(clock, 200 * MS, reader)
        alive = not reader.done()
        await reader
        return alive, clock.now_ns()

    assert await clock.run(body()) == (True, 1000 * MS)


async def test_without_a_deadline_it_waits_for_the_first_event():
    clock = FakeClock()

    async def body() -> int:
        await wait_first(clock, None, clock.sleep(0.3), clock.sleep(0.5))
        return clock.now_ns()

    assert await clock.run(body()) == 300 * MS
