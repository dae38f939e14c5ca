"""The events' part of a run's results, on a real Results pipeline fed synthetic intervals
(fake clock, no sleeps): recovery judged during the run while its intervals are still at
1 s, `loadgen.events` / `loadgen.recovery` in the shared shape, the EVENTS section, and a
failed required event or recovery turning a clean exit into 99."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadgen import At, ConstantArrivalRate, Recovery, Scenario, Shell
from loadgen.clock import FakeClock
from loadgen.errors import ExitCode
from loadgen.events.model import EventOutcome
from loadgen.events.plan import plan_events
from loadgen.events.results import EventResults
from loadgen.events.runner import EventRunner
from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.metrics.registry import Registry
from loadgen.results.config import ResultsConfig
from loadgen.results.pipeline import Results

S = 1_000_000_000
OK, BAD, SLOW = (10.0, 0.0), (900.0, 1.0), (400.0, 0.2)


class Faulted(Scenario):
    executor = ConstantArrivalRate(rate=50, duration="60s", pre_allocated_vus=5)
    events = [At("10s", Shell("true"), name="break"),
              At("12s", Shell("true"), name="heal", required=True)]
    recovery = [Recovery(after="break", until="heal", within="5s")]


class Late(Scenario):
    """Starts 5 s into the run: event offsets are the run's, its series is its own."""

    executor = ConstantArrivalRate(rate=50, duration="60s", pre_allocated_vus=5,
                                   start_time="5s")
    events = Faulted.events
    recovery = Faulted.recovery


def setup(max_buckets: int = 256, cls: type[Scenario] = Faulted,
          ) -> tuple[FakeClock, Results, EventResults, Registry]:
    clock = FakeClock()
    registry = Registry()
    specs = [ScenarioSpec("faulted", cls, cls.executor)]
    results = Results(registry, specs, ResultsConfig(), now_ns=clock.now_ns)
    results.timeseries.max_buckets = max_buckets
    results.started(0)
    plan = plan_events(specs)
    runner = EventRunner(plan.events, clock, {})
    runner.origin_ns = 0
    ev = EventResults(plan, runner, results, clock, registry)
    results.addons.append(ev)
    return clock, results, ev, registry


def feed(results: Results, registry: Registry, t0: int, t1: int, shape: Any) -> None:
    """50 requests a second from t0 to t1 s, each second shaped by shape(second)."""
    ts = results.timeseries
    scen = ts.scenario_no("faulted")
    for sec in range(t0, t1):
        p95, err = shape(sec)
        t = np.full(50, sec * S + S // 2, dtype=np.int64)
        ts.add(registry["http_req_duration"], t, np.full(50, p95), scen)
        fails = np.zeros(50)
        fails[: round(err * 50)] = 1.0
        ts.add(registry["http_req_failed"], t, fails, scen)


def shape(sec: int) -> tuple[float, float]:
    return BAD if 10 <= sec < 12 else SLOW if sec == 12 else OK


def ran(ev: EventResults, name: str, at: float, ok: bool = True, status: int = 0) -> None:
    event = next(e for e in ev.plan.events if e.name == name)
    ev.runner.outcomes.append(EventOutcome(event, at, ok, status, 0.0, ""))


def test_recovery_is_judged_while_its_intervals_are_still_at_one_second() -> None:
    results_by: dict[str, Any] = {}
    for live in (True, False):
        clock, results, ev, registry = setup(max_buckets=16)
        ran(ev, "break", 10.0)
        ran(ev, "heal", 12.0)
        feed(results, registry, 0, 20, shape)
        clock._now = 20 * S
        if live:
            ev.tick()  # the judge's 2 s tick, 8 s after the fault ended
        feed(results, registry, 20, 60, shape)  # 60 intervals in 16 buckets: merged
        clock._now = 60 * S
        code = results.finish(Outcome(ExitCode.OK, 60 * S))
        results_by["live" if live else "end"] = (code, results.sections["recovery"][0])
    code, rec = results_by["live"]
    assert code == 0
    assert rec == {"event": "break", "recovery_s": 1.0, "peak_p95_ms": rec["peak_p95_ms"],
                   "peak_error_rate": 1.0, "kept_answering": True, "passed": True}
    assert 890 < rec["peak_p95_ms"] < 910  # the time series' percentile of 900 ms values
    # judged only at the end, the fault is inside merged 4-8 s intervals: coarser
    assert results_by["end"][1]["recovery_s"] != 1.0


def test_a_scenario_that_starts_late_is_judged_on_the_run_s_clock() -> None:
    clock, results, ev, registry = setup(cls=Late)
    ran(ev, "break", 10.0)  # 5 s into the scenario
    ran(ev, "heal", 12.0)
    # the series is fed on the run's clock: the scenario is faulted 10-12 s into the run
    feed(results, registry, 5, 30, shape)
    clock._now = 30 * S
    results.finish(Outcome(ExitCode.OK, 30 * S))
    (rec,) = results.sections["recovery"]
    assert (rec["recovery_s"], rec["peak_error_rate"], rec["passed"]) == (1.0, 1.0, True)


def test_the_shared_shape_the_text_section_and_the_exit_code(capsys: Any) -> None:
    clock, results, ev, registry = setup()
    ran(ev, "break", 10.0)
    ran(ev, "heal", 12.0, ok=False, status=1)  # required, failed
    feed(results, registry, 0, 30, lambda sec: BAD if sec >= 10 else OK)  # never recovers
    clock._now = 30 * S
    code = results.finish(Outcome(ExitCode.OK, 30 * S))
    assert code == ExitCode.THRESHOLDS_FAILED
    assert results.sections["events"] == [
        {"at_s": 10.0, "name": "break", "kind": "shell", "ok": True, "status": 0,
         "duration_s": 0.0, "output_tail": "", "required": False},
        {"at_s": 12.0, "name": "heal", "kind": "shell", "ok": False, "status": 1,
         "duration_s": 0.0, "output_tail": "", "required": True}]
    (rec,) = results.sections["recovery"]
    assert rec["recovery_s"] is None and rec["passed"] is False
    out = capsys.readouterr().out
    assert "█ EVENTS" in out and "✗ heal (shell) at 12.0s: exit 1 in 0.00s [required]" in out
    assert "✗ faulted (recovery): did NOT recover" in out and "note: event heal failed" in out
    assert "event heal (shell) [required] failed: status 1" in out


def test_without_events_the_keys_are_absent() -> None:
    clock = FakeClock()
    registry = Registry()

    class Plain(Scenario):
        executor = ConstantArrivalRate(rate=1, duration="1s", pre_allocated_vus=1)

    specs = [ScenarioSpec("plain", Plain, Plain.executor)]
    results = Results(registry, specs, ResultsConfig(no_summary=True), now_ns=clock.now_ns)
    assert not plan_events(specs)
    results.started(0)
    results.finish(Outcome(ExitCode.OK, S))
    assert "events" not in results.sections and "recovery" not in results.sections
