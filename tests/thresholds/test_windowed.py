"""Windowed thresholds (`p(99) over 1m < 300`) judged on per-second interval snapshots:
synthetic seconds, no clock at all, so every window boundary is exact."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes.py

from fakes import Harness  # noqa: E402

from loadgen import ConstantVUs, Scenario  # noqa: E402
from loadgen import thresholds as th  # noqa: E402
from loadgen.commands.check import check_summary  # noqa: E402
from loadgen.errors import ExitCode  # noqa: E402
from loadgen.execution.engine import Engine, Hooks  # noqa: E402
from loadgen.execution.plan import Overrides, build_plan  # noqa: E402
from loadgen.metrics.histogram import TrendSink  # noqa: E402
from loadgen.metrics.model import MetricType  # noqa: E402
from loadgen.metrics.sinks import CounterSink, RateSink  # noqa: E402
from loadgen.results.config import ResultsConfig  # noqa: E402
from loadgen.results.interval import Interval  # noqa: E402
from loadgen.results.pipeline import Results  # noqa: E402
from loadgen.results.windows import Windows, window_value  # noqa: E402

TYPES = {"http_req_duration": MetricType.TREND, "http_reqs": MetricType.COUNTER,
         "http_req_failed": MetricType.RATE, "vus": MetricType.GAUGE}
OK_TAGS = (("scenario", "a"), ("status", "200"))
ERR_TAGS = (("scenario", "a"), ("status", "500"))


def second(k: int, durations: list[float], reqs: int = 0, failed: tuple[int, int] = (0, 0),
           exact: bool = True) -> Interval:
    """The snapshot of second k (k-1 .. k): latencies, a request count, failed/total."""
    iv = Interval(k - 1.0, float(k))
    t = TrendSink(10_000 if exact else 0, -30)
    t.add_many(np.array(durations, dtype=np.float64))
    iv.metrics[("http_req_duration", OK_TAGS)] = t
    c = CounterSink()
    c.add_many(np.ones(reqs))
    iv.metrics[("http_reqs", OK_TAGS)] = c
    r = RateSink()
    r.add_many(np.array([1.0] * failed[0] + [0.0] * (failed[1] - failed[0])))
    iv.metrics[("http_req_failed", OK_TAGS)] = r
    return iv


def judged(raw: dict, seconds: list[Interval], final: bool = True
           ) -> tuple[th.Evaluation, Windows, th.ThresholdSet]:
    tset = th.parse(raw, TYPES)
    w = Windows(tset)
    for iv in seconds:
        w.add(iv)
    if final:
        w.flush()
    whole = {MetricType.TREND: TrendSink(), MetricType.COUNTER: CounterSink(),
             MetricType.RATE: RateSink()}
    for s in whole.values():  # the whole run's sinks: not empty, never read by a window
        s.add(1.0)

    def sink(name: str):
        return whole[TYPES[name.partition("{")[0]]]

    return th.evaluate(tset, sink, len(seconds), final=final, windowed=w.ok), w, tset


def test_one_bad_second_fails_only_the_windows_that_hold_it():
    good = [second(k, [10.0] * 99 + [20.0]) for k in range(1, 7)]
    bad = second(7, [10.0] * 50 + [900.0] * 50)
    after = [second(k, [10.0] * 99 + [20.0]) for k in (8, 9)]
    ev, w, tset = judged({"http_req_duration": ["p(99) over 3s < 300", "p(99) < 1000"]},
                         [*good, bad, *after])
    assert ev.ok["http_req_duration"] == [False, True]  # (whole-run p(99) here: the stub)
    # the first window holding second 7 breaks it; its p(99) is a 900 ms value (within 0.1%)
    assert w.observed("http_req_duration", 0) == pytest.approx(900, rel=2e-3)
    # the same seconds, one 9 s window: 50 slow values of 900 leave p(90) at 10 ms
    ev2, w2, _ = judged({"http_req_duration": ["p(90) over 9s < 300"]}, [*good, bad, *after])
    assert ev2.ok["http_req_duration"] == [True]
    assert w2.observed("http_req_duration", 0) == pytest.approx(10.0, rel=2e-3)


def test_hdr_seconds_and_exact_seconds_judge_alike():
    vals = list(np.linspace(1, 500, 400))
    a = judged({"http_req_duration": ["p(95) over 2s < 480"]},
               [second(1, vals), second(2, vals)])[1]
    b = judged({"http_req_duration": ["p(95) over 2s < 480"]},
               [second(1, vals, exact=False), second(2, vals, exact=False)])[1]
    assert a.observed("http_req_duration", 0) == pytest.approx(
        b.observed("http_req_duration", 0), rel=2e-3)
    assert a.observed("http_req_duration", 0) == pytest.approx(np.percentile(vals, 95),
                                                               rel=3e-3)


def test_rate_and_count_over_a_window_on_rates_and_counters():
    seconds = [second(k, [5.0], reqs=40, failed=(0, 40)) for k in range(1, 5)]
    seconds.append(second(5, [5.0], reqs=40, failed=(4, 40)))  # 10% failed in one second
    ev, w, _ = judged({"http_req_failed": ["rate over 2s < 0.01", "rate over 5s < 0.05"],
                       "http_reqs": ["count over 3s >= 120", "rate over 2s >= 40",
                                     "count over 1s > 40"]}, seconds)
    assert ev.ok["http_req_failed"] == [False, True]
    assert w.observed("http_req_failed", 0) == pytest.approx(4 / 80)
    assert w.observed("http_req_failed", 1) == pytest.approx(4 / 200)
    assert ev.ok["http_reqs"] == [True, True, False]
    assert w.observed("http_reqs", 1) == 40.0  # per second over the window
    assert w.observed("http_reqs", 2) == 40.0


def test_unserved_iterations_rank_above_every_served_one_in_a_window():
    slow = second(2, [10.0] * 99)
    slow.metrics[("http_req_duration", OK_TAGS)].add(np.inf)  # one dropped iteration
    ev, w, _ = judged({"http_req_duration": ["p(99.9) over 2s < 100", "p(90) over 2s < 100",
                                             "max over 2s < 100", "avg over 2s < 100"]},
                      [second(1, [10.0] * 100), slow])
    assert ev.ok["http_req_duration"] == [False, True, False, True]
    assert w.observed("http_req_duration", 0) == np.inf
    assert w.observed("http_req_duration", 1) == pytest.approx(10.0, rel=2e-3)


def test_a_selector_counts_only_its_tag_sets():
    iv = second(1, [10.0])
    err = TrendSink(10_000, -30)
    err.add_many(np.array([5000.0]))
    iv.metrics[("http_req_duration", ERR_TAGS)] = err
    ev, _, _ = judged({"http_req_duration{status:200}": ["max over 1s < 100"],
                       "http_req_duration": ["max over 1s < 100"]}, [iv])
    assert ev.ok == {"http_req_duration{status:200}": [True], "http_req_duration": [False]}


def test_a_run_shorter_than_the_window_is_undecided_and_fails_loudly():
    ev, w, _ = judged({"http_req_duration": ["p(99) over 1m < 300"]},
                      [second(k, [1.0]) for k in range(1, 4)])
    assert w.ok("http_req_duration", 0) is None
    assert ev.ok["http_req_duration"] == [False] and ev.breached == ["http_req_duration"]
    [line] = w.undecided()
    assert "never filled one 60 s window" in line and "undecided" in line
    assert "p(99) over 1m < 300" in line
    # during the run it is not yet failed (nothing to abort on)
    ev_run, _, _ = judged({"http_req_duration": ["p(99) over 1m < 300"]},
                          [second(1, [1.0])], final=False)
    assert ev_run.ok["http_req_duration"] == [True]


def test_abort_on_fail_acts_on_a_broken_window_during_the_run():
    raw = {"http_req_duration": [{"threshold": "max over 2s < 100", "abortOnFail": True}]}
    ev, _, _ = judged(raw, [second(1, [1.0]), second(2, [1.0]), second(3, [1.0])], final=False)
    assert not ev.abort  # seconds 1-2 judged (3 waits for a later one), all fine
    ev, _, _ = judged(raw, [second(1, [1.0]), second(2, [500.0]), second(3, [1.0]),
                            second(4, [1.0])], final=False)
    assert ev.abort and ev.breached == ["http_req_duration"]


def test_a_fleet_s_workers_seconds_add_up_before_judging():
    # two workers, each 20 requests in second 1: together 40 (count over 1s > 30 holds)
    ev, w, _ = judged({"http_reqs": ["count over 1s > 30"]},
                      [second(1, [1.0], reqs=20), second(1, [1.0], reqs=20),
                       second(2, [1.0], reqs=40)])
    assert ev.ok["http_reqs"] == [True]


def test_the_slid_window_equals_a_window_merged_from_scratch():
    rng = np.random.default_rng(7)
    tset = th.parse({"http_req_duration": ["p(99) over 4s < 1e9"]}, TYPES)
    w = Windows(tset)
    t = w.tracked[("http_req_duration", 0)]
    for k in range(1, 30):
        w.add(second(k, list(rng.lognormal(3, 1, int(rng.integers(1, 300)))), exact=k % 2 == 0))
        if len(t.parts) == 4:
            slid = window_value(t.expr, t.mtype, list(t.parts), t.dense)
            assert slid == window_value(t.expr, t.mtype, list(t.parts))


def test_memory_stays_bounded_by_the_window():
    tset = th.parse({"http_reqs": ["count over 5s > 0"]}, TYPES)
    w = Windows(tset)
    for k in range(1, 200):
        w.add(second(k, [1.0], reqs=1))
    t = w.tracked[("http_reqs", 0)]
    assert len(t.parts) == 5 and len(w._pending) <= 2


@pytest.mark.parametrize(("expr", "why"), [
    ("p(99) over 500ms < 3", "whole seconds from 1s to 1h"),
    ("p(99) over 2h < 3", "whole seconds from 1s to 1h"),
    ("p(99) over soon < 3", "invalid window"),
])
def test_bad_windows_are_named(expr, why):
    problems = th.validate({"http_req_duration": [expr]}, TYPES)
    assert len(problems) == 1 and why in problems[0] and expr in problems[0]


def test_a_gauge_has_no_window():
    [p] = th.validate({"vus": ["value over 10s < 3"]}, TYPES)
    assert "needs a trend, counter or rate" in p


def test_check_says_a_summary_cannot_judge_a_window():
    summary = {"metrics": {"http_req_duration": {"type": "trend", "contains": "time",
                                                 "values": {"p(99)": 10.0, "avg": 5.0}}}}
    res = check_summary(summary, {"http_req_duration": ["p(99) over 1m < 300"]})
    assert res.exit_code == 104
    assert "needs the run's per-second intervals" in res.undecidable[0]


async def test_a_run_on_the_fake_clock_aborts_when_one_window_breaks():
    """The whole pipeline: the engine's records cut into seconds, windows judged on the
    2-s tick, abortOnFail stopping a 60 s run soon after the slow second."""
    S = 1_000_000_000
    holder: dict[str, Harness] = {}

    def latency(_req) -> float:  # 10 ms, except from 5 s to 6 s: 300 ms
        return 0.3 if 5 * S <= holder["h"].clock.now_ns() < 6 * S else 0.01

    h = holder["h"] = Harness(latency=latency)

    class Steady(Scenario):
        executor = ConstantVUs(vus=2, duration="60s", graceful_stop="0s")
        thresholds = {"http_req_duration": [
            "p(99) < 1000",
            {"threshold": "max over 2s < 200", "abortOnFail": True}]}

        async def iteration(self, vu):
            await vu.http.get("/")

    specs = build_plan([Steady], Overrides(env={"BASE_URL": "http://127.0.0.1:9"}))
    results = Results(h.registry, specs, ResultsConfig(no_summary=True), now_ns=h.clock.now_ns)
    engine = Engine(h.run_ctx, specs, Hooks(ingest=results.ingest, tick=results.tick,
                                             started=results.started,
                                             exec_started=results.exec_started))
    outcome = await h.clock.run(engine.execute())
    code = results.finish(outcome)
    assert code == ExitCode.THRESHOLDS_FAILED
    assert "abortOnFail" in outcome.reason
    # the slow second ends at 6 s; judged two seconds later, on the next 2-s tick
    assert 6 * S < outcome.duration_ns <= 11 * S
    assert results.judgement is not None
    assert results.judgement.thresholds["http_req_duration"] == [
        ("p(99) < 1000", True), ("max over 2s < 200", False)]
    assert results.judge.windows.observed("http_req_duration", 1) == pytest.approx(
        300, rel=2e-3)


def test_the_load_s_edges_are_not_windows_but_an_outage_inside_it_is():
    raw = {"http_reqs": ["count over 2s >= 20"]}
    busy = [second(k, [1.0], reqs=10) for k in range(3, 8)]
    # set-up (seconds 1-2, nothing sent) and the tail (graceful stop, teardown): not judged
    lead_tail = [second(1, [], reqs=0), second(2, [], reqs=0), *busy,
                 second(8, [], reqs=0), second(9, [], reqs=0)]
    for iv in lead_tail:
        del iv.metrics[("http_req_duration", OK_TAGS)]
    ev, w, _ = judged(raw, lead_tail)
    assert ev.ok["http_reqs"] == [True] and w.observed("http_reqs", 0) == 20
    # a 3 s outage inside the load: the all-empty window counts 0 and fails
    gap = [second(k, [1.0], reqs=10) for k in (1, 2)] + [
        second(k, [1.0], reqs=0) for k in (3, 4, 5)] + [second(k, [1.0], reqs=10)
                                                         for k in (6, 7)]
    for iv in gap[2:5]:
        del iv.metrics[("http_req_duration", OK_TAGS)]
    ev, w, _ = judged(raw, gap)
    assert ev.ok["http_reqs"] == [False] and w.observed("http_reqs", 0) == 0


def test_a_live_run_s_windows_start_with_the_executors():
    tset = th.parse({"http_reqs": ["count over 1s >= 10"]}, TYPES)
    w = Windows(tset)
    w.wait_for_load()
    w.add(second(1, [1.0], reqs=1))  # setup()'s one request
    w.load_started(1.1)  # the executors start 1.1 s into the run
    for k in range(2, 6):
        w.add(second(k, [1.0], reqs=10))
    w.flush()
    assert w.ok("http_reqs", 0) is True and w.observed("http_reqs", 0) == 10
