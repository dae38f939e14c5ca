"""Evaluation: empty metrics (§3.6), values compared (§3.3), abortOnFail timing (§3.4)."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.metrics.model import MetricType
from loadgen.metrics.registry import BUILTINS
from loadgen.metrics.sinks import (
    CounterSink,
    ExactTrendSink,
    GaugeSink,
    RateSink,
    Sink,
    new_sink,
)
from loadgen.thresholds import ThresholdSet, evaluate, parse

TYPES = {name: t for name, (t, _) in BUILTINS.items()} | {
    "c_empty": MetricType.COUNTER, "t_empty": MetricType.TREND,
    "r_empty": MetricType.RATE, "g_empty": MetricType.GAUGE, "cc": MetricType.COUNTER,
}
# ec/no_samples.js (exit_no_samples.txt): the verified §3.6 table
NO_SAMPLES = {
    "c_empty": ["count>0"], "t_empty": ["p(95)<100", "avg>1"], "r_empty": ["rate>0.5"],
    "g_empty": ["value>1"], "http_req_duration{scenario:nope}": ["max<100"],
    "http_reqs{status:500}": ["count<1"],
}


def _sinks(tset: ThresholdSet, fill: dict[str, list[float]] | None = None) -> dict[str, Sink]:
    sinks: dict[str, Sink] = {}
    for m in tset.metrics:
        sinks[m.name] = new_sink(m.type)
        for v in (fill or {}).get(m.name, []):
            sinks[m.name].add(v)
    return sinks


def test_final_evaluation_of_empty_metrics_matches_k6() -> None:
    tset = parse(NO_SAMPLES, TYPES)
    ev = evaluate(tset, _sinks(tset).get, 0.089, final=True)
    assert ev.ok == {
        "c_empty": [False], "t_empty": [True, False], "r_empty": [True], "g_empty": [False],
        "http_req_duration{scenario:nope}": [True], "http_reqs{status:500}": [True],
    }
    assert ev.breached == ["c_empty", "g_empty", "t_empty"]
    assert not ev.abort
    assert ev.message() == "thresholds on metrics 'c_empty, g_empty, t_empty' have been crossed"


def test_missing_sinks_count_as_empty_at_the_end() -> None:
    tset = parse(NO_SAMPLES, TYPES)
    none: dict[str, Sink] = {}
    ev = evaluate(tset, none.get, 1.0, final=True)
    assert ev.breached == ["c_empty", "g_empty", "t_empty"]


def test_empty_sinks_are_skipped_during_the_run() -> None:
    tset = parse(NO_SAMPLES, TYPES)
    ev = evaluate(tset, _sinks(tset).get, 2.0, final=False)
    assert ev.breached == [] and ev.message() is None
    assert all(all(flags) for flags in ev.ok.values())


def test_skipped_metrics_keep_their_previous_result() -> None:
    tset = parse({"cc": ["count>5"]}, TYPES)
    sink = CounterSink()
    sink.add(1)
    assert evaluate(tset, {"cc": sink}.get, 2.0, final=False).ok == {"cc": [False]}
    # a later tick where the sink is unavailable leaves the flag as it was
    none: dict[str, Sink] = {}
    assert evaluate(tset, none.get, 4.0, final=False).ok == {"cc": [False]}


@pytest.mark.parametrize(
    ("metric", "sources", "values", "elapsed", "expected"),
    [
        ("cc", ["count===3", "count!=0", "rate>0", "count == 3"], [1, 1, 1], 0.004,
         [True, True, True, True]),
        ("cc", ["rate<10"], [1] * 30, 2.0, [False]),  # rate = count / elapsed seconds
        ("cc", ["rate<=15"], [1] * 30, 2.0, [True]),
        ("g_empty", ["value<0"], [5, -2], 1.0, [True]),  # last value
        ("r_empty", ["rate==0.6"], [5, 0, -1, 0, 1], 1.0, [True]),  # non-zero is true
        ("t_empty", ["p(90)==9.1", "med==5.5", "avg==5.5", "min==1", "max==10",
                     "p(99.90)<10", "p(100)==10", "p(0)==1"], list(range(1, 11)), 1.0,
         [True] * 8),
    ],
)
def test_values_compared(metric: str, sources: list[str], values: list[float], elapsed: float,
                         expected: list[bool]) -> None:
    tset = parse({metric: sources}, TYPES)
    ev = evaluate(tset, _sinks(tset, {metric: values}).get, elapsed, final=True)
    assert ev.ok[metric] == expected


def _abort_set(delay: Any = None, abort: bool = True) -> ThresholdSet:
    spec: dict[str, Any] = {"threshold": "rate<0.01", "abortOnFail": abort}
    if delay is not None:
        spec["delayAbortEval"] = delay
    return parse({"http_req_failed": [spec, "rate<0.9"]}, TYPES)


def _failing_rate() -> RateSink:
    r = RateSink()
    r.add(1)
    return r


def test_abort_on_fail_fires_at_first_tick() -> None:
    tset = _abort_set()
    ev = evaluate(tset, {"http_req_failed": _failing_rate()}.get, 2.0, final=False)
    assert ev.abort and ev.breached == ["http_req_failed"]
    assert ev.ok["http_req_failed"] == [False, False]
    assert ev.message() == ("thresholds on metrics 'http_req_failed' were crossed; at least one "
                            "has abortOnFail enabled, stopping test prematurely")


def test_delay_abort_eval_waits_until_elapsed_exceeds_it() -> None:
    tset = _abort_set("5s")
    sinks = {"http_req_failed": _failing_rate()}
    assert not evaluate(tset, sinks.get, 2.0, final=False).abort
    assert not evaluate(tset, sinks.get, 4.0, final=False).abort
    assert not evaluate(tset, sinks.get, 5.0, final=False).abort  # strictly greater
    assert evaluate(tset, sinks.get, 6.1, final=False).abort


def test_no_abort_without_abort_on_fail_or_when_passing() -> None:
    tset = _abort_set(abort=False)
    assert not evaluate(tset, {"http_req_failed": _failing_rate()}.get, 9.0, final=False).abort
    tset = _abort_set()
    ok = RateSink()
    ok.add(0)
    assert not evaluate(tset, {"http_req_failed": ok}.get, 9.0, final=False).abort


def test_abort_is_sticky_like_k6() -> None:
    tset = _abort_set()
    failing = {"http_req_failed": _failing_rate()}
    assert evaluate(tset, failing.get, 2.0, final=False).abort
    assert tset.metrics[0].aborted


def test_sink_kinds_through_protocol() -> None:
    tset = parse({"my": ["value>1"]}, {"my": MetricType.GAUGE})
    g = GaugeSink()
    g.add(-5)
    g.add(-2)
    assert evaluate(tset, {"my": g}.get, 1, final=True).ok == {"my": [False]}
    tset = parse({"tt": ["p(95)<100"]}, {"tt": MetricType.TREND})
    t = ExactTrendSink()
    t.add(150)
    assert evaluate(tset, {"tt": t}.get, 1, final=True).breached == ["tt"]
