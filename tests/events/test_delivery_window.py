"""Messages across a fault: the tracker counts sends and, once settled, losses by send
second, so a recovery verdict can say what the fault's window cost (fake clock)."""

from __future__ import annotations

from typing import Any

from fakes import Harness
from test_event_results import BAD, OK, S, feed, ran, setup

from loadgen.errors import ExitCode
from loadgen.execution.engine import Outcome
from loadgen.messaging.track import DeliveryTracker
from loadgen.metrics.model import MetricType, tagset
from loadgen.metrics.registry import Recorder, Registry


async def test_sent_and_lost_are_counted_by_send_second() -> None:
    h = Harness()
    tracker: DeliveryTracker = h.run_ctx.make_tracker()

    async def body() -> None:
        for second in range(6):  # 10 a second; those sent in seconds 2-3 are never received
            for i in range(10):
                tracker.sent((second, i))
                if second not in (2, 3):
                    tracker.received((second, i))
            await h.clock.sleep(1.0)
        await tracker.settle(grace=0.5)

    await h.clock.run(body())
    assert tracker.window(2 * S, 4 * S) == (20, 20)
    assert tracker.window(0, 6 * S) == (60, 20)
    assert tracker.window(4 * S, 6 * S) == (20, 0)
    assert tracker.window(int(2.5 * S), int(3.2 * S)) == (20, 20)  # to the second


def test_a_recovery_verdict_reports_the_messages_of_its_window(capsys: Any) -> None:
    clock, results, ev, registry = setup()
    ran(ev, "break", 10.0)
    ran(ev, "heal", 12.0)
    feed(results, registry, 0, 20, lambda sec: BAD if 10 <= sec < 12 else OK)
    tracker = Harness().run_ctx.make_tracker()
    tracker.sent_by_second.update({9: 50, 10: 50, 11: 50, 12: 50, 13: 50, 14: 50})
    tracker.lost_by_second.update({10: 7, 11: 3, 18: 1})
    ev.tracker = lambda: tracker
    results.ingest(_counter_records(registry, {"messages_sent": 300, "messages_delivered": 289,
                                               "messages_lost": 11}))
    clock._now = 20 * S
    assert results.finish(Outcome(ExitCode.OK, 20 * S)) == 0
    figures = results.judgement.verdicts[0].figures if results.judgement else {}
    # window: the fault's start (10 s) to recovery + 2 stable intervals (12 + 0 + 2 = 14 s)
    assert (figures["fault_window_sent"], figures["fault_window_lost"]) == (200, 10)
    assert figures["messages_lost"] == 11
    assert "messages sent from the fault to its recovery: 200, 10 lost" in capsys.readouterr().out


def _counter_records(registry: Registry, totals: dict[str, int]) -> list[tuple[object, ...]]:
    """The tracker's counters as a run records them (defined on the run's registry)."""
    recorder = Recorder()
    for name, n in totals.items():
        m = registry.define(name, MetricType.COUNTER)
        recorder.sample(m, float(n), tagset({"scenario": "faulted"}), 15 * S)
    return recorder.drain()
