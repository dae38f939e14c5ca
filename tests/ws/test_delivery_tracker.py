"""DeliveryTracker on the fake clock: exact latencies, early receipts, duplicates, the grace
period, bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fakes import Harness

from loadgen import ConstantArrivalRate
from loadgen.messaging.track import DeliveryTracker
from loadgen.scripting.scenario import Scenario

MS = 1_000_000


async def on_fake_clock(body: Callable[[DeliveryTracker, Harness], Awaitable[Any]],
                        **kw: Any) -> tuple[DeliveryTracker, Harness, Any]:
    h = Harness()
    tracker = h.run_ctx.make_tracker(**kw)
    result = await h.clock.run(body(tracker, h))
    return tracker, h, result


def values(h: Harness, name: str) -> list[float]:
    return [v for _, v, _ in h.samples(name)]


def recorded(h: Harness) -> Harness:
    h.records.extend(h.recorder.drain())
    return h


async def test_latency_is_from_sent_to_first_receipt():
    async def body(t: DeliveryTracker, h: Harness) -> None:
        t.sent("a")
        await h.clock.sleep(0.025)
        assert t.received("a") is True
        assert t.received("a") is False  # a duplicate

    t, h, _ = await on_fake_clock(body)
    recorded(h)
    assert values(h, "delivery_latency") == [25.0]
    assert values(h, "messages_delivered") == [1.0]
    assert values(h, "messages_duplicated") == [1.0]
    assert t.outstanding == 0


async def test_receipts_that_beat_the_ack_are_matched_later():
    async def body(t: DeliveryTracker, h: Harness) -> None:
        post_started = h.clock.now_ns()
        await h.clock.sleep(0.010)
        t.received("a")  # the push arrived before the POST returned
        t.received("b")
        t.received("b")  # twice, even
        await h.clock.sleep(0.020)
        t.sent("a", t_ns=post_started)  # measured from the POST's start: 10 ms
        t.sent("b")  # measured from the ack: the receipt came first, clamped to 0

    t, h, _ = await on_fake_clock(body)
    recorded(h)
    assert values(h, "delivery_latency") == [10.0, 0.0]
    assert t.counts == {"sent": 2, "delivered": 2, "duplicated": 1}


async def test_settle_waits_the_grace_then_counts_the_rest_lost():
    async def body(t: DeliveryTracker, h: Harness) -> tuple[int, int]:
        for i in range(3):
            t.sent(i)
        t.received(0)
        start = h.clock.now_ns()
        lost = await t.settle(grace=1.5)
        return lost, h.clock.now_ns() - start

    t, h, (lost, waited) = await on_fake_clock(body)
    recorded(h)
    assert lost == 2 and waited == 1500 * MS
    assert values(h, "messages_lost") == [2.0]


async def test_settle_returns_as_soon_as_everything_arrived():
    async def body(t: DeliveryTracker, h: Harness) -> int:
        t.sent("x")

        async def late() -> None:
            await h.clock.sleep(0.3)
            t.received("x")

        task = asyncio.ensure_future(late())
        start = h.clock.now_ns()
        assert await t.settle() == 0
        await task
        return h.clock.now_ns() - start

    t, h, waited = await on_fake_clock(body)
    recorded(h)
    assert waited == 300 * MS
    assert values(h, "messages_lost") == [0.0]  # sampled anyway: visible, thresholdable
    assert values(h, "delivery_latency") == [300.0]


async def test_memory_is_capped_and_the_overflow_counted():
    async def body(t: DeliveryTracker, h: Harness) -> None:
        for i in range(5):
            t.sent(i)

    t, h, _ = await on_fake_clock(body, cap=3)
    recorded(h)
    assert t.outstanding == 3 and t.counts["untracked"] == 2
    assert values(h, "messages_untracked") == [1.0, 1.0]
    assert h.run_ctx._logged == {"track:cap": 2}  # logged once, counted twice


async def test_unmatched_receipts_expire_and_the_duplicate_window_is_bounded():
    async def body(t: DeliveryTracker, h: Harness) -> None:
        t.received("stranger")
        await h.clock.sleep(2.0)
        t.received("another")  # expires "stranger" (ttl 1 s)
        for i in range(3):
            t.sent(i)
            t.received(i)
        t.received(0)  # outside the 2-id duplicate window: an unknown receipt now
        await t.settle(grace=0)

    t, h, _ = await on_fake_clock(body, early_ttl=1.0, dup_window=2)
    assert len(t._done) == 2 and len(t._early) == 0
    assert t.counts["unmatched"] == 3 and t.counts["duplicated"] == 0


class Fire(Scenario):
    """Sends ids nobody receives; its delivery_grace sets the tracker's grace."""

    delivery_grace = 0.5

    async def iteration(self, vu):
        vu.track.sent(f"m{vu.iteration}-{vu.id}")


async def test_the_engine_settles_with_the_scenarios_grace():
    h = Harness()
    out = await h.run((Fire, ConstantArrivalRate(rate=10, duration="1s", pre_allocated_vus=1)))
    assert out.exit_code == 0
    assert h.count("messages_sent") == 10 and h.count("messages_lost") == 10
    [(t_lost, _, tags)] = h.samples("messages_lost")
    assert tags["scenario"] == "fire"  # the sender's tags
    assert t_lost - h.engine.exec_start_ns == 1500 * MS  # 1 s of load + 0.5 s grace
