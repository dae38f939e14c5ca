"""The C iteration runner (execution/_iteration.c, execution/fast_iteration.py) against its
Python twin, ScenarioRuntime.iteration: the same scenarios through both, and the same
records, counters, VU numbering and logs out of both; a normal end, the open model's
samples, an error, an abort, a cancellation in flight, an exception that is not the
iteration's to count, a scenario whose iteration is not a coroutine."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from typing import Any

import pytest

from loadgen import Scenario
from loadgen.clock import RealClock
from loadgen.errors import TestAborted
from loadgen.execution import fast_iteration
from loadgen.execution.runtime import RunContext, ScenarioRuntime
from loadgen.metrics.model import ITER, SAMPLE
from loadgen.metrics.registry import Recorder, Registry
from loadgen.scripting.context import current_vu
from loadgen.testing import MockTransport

pytestmark = pytest.mark.skipif(fast_iteration._C is None,
                                reason="the C runner was not built (pure-Python install)")


class Stop(BaseException):
    """Not an Exception: an iteration lets it through uncounted (like KeyboardInterrupt)."""


class Busy(Scenario):
    async def iteration(self, vu: Any) -> None:
        assert current_vu.get() is vu
        vu.meter.bytes_sent += 10
        vu.meter.bytes_received += 20 + vu.iteration
        what = getattr(vu, "data", None) or ""
        await asyncio.sleep(0)
        if what == "raise" and vu.iteration == 2:
            raise ValueError("boom")
        if what == "abort" and vu.iteration == 2:
            raise TestAborted("enough")
        if what == "stop" and vu.iteration == 2:
            raise Stop()
        if what == "hang":
            await asyncio.sleep(10)


class NotAsync(Scenario):
    def iteration(self, vu: Any) -> None:  # type: ignore[override]
        return None


def runtime(cls: type, *, c_path: bool) -> ScenarioRuntime:
    run = RunContext(RealClock(), Registry(), Recorder(), lambda: MockTransport(print))
    rt = ScenarioRuntime(run, "s", cls, None, base_url=None, tags={}, expected=None)
    assert "iteration" in vars(rt)  # the real clock: the C runner applies
    if not c_path:
        del rt.iteration  # the class's coroutine: the Python twin
    return rt


def outcome(rt: ScenarioRuntime, vu: Any) -> tuple[Any, ...]:
    """Records without clock readings (kind, tags, values that are not times) and counts."""
    recs = []
    for r in rt.recorder.records:
        if r[0] == ITER:
            assert r[3] >= 0
            recs.append(("iter", dict(r[2]), r[4], r[5]))
        elif r[0] == SAMPLE:
            value = r[3] if math.isinf(r[3]) or r[2].name.startswith("data_") else r[3] >= 0
            recs.append(("sample", r[2].name, value, dict(r[4])))
        else:
            recs.append(("other", r[0]))
    return (recs, rt.started, rt.completed, rt.failed, rt.interrupted, vu.iteration,
            vu.iteration_in_test, vu.meter.bytes_sent, vu.meter.bytes_received,
            rt.run.abort_reason, dict(rt.run._logged))


async def both(cls: type, data: str, steps: int, **kw: Any) -> list[tuple[Any, ...]]:
    """The outcome of `steps` iterations through the C runner, then the Python one (each
    with the iterations a Stop went through, first)."""
    out = []
    for c_path in (True, False):
        rt = runtime(cls, c_path=c_path)
        vu = rt.new_vu()
        vu.data = data
        stopped = []
        for i in range(steps):
            try:
                await rt.iteration(vu, **({k: v(i) for k, v in kw.items()}))
            except Stop:
                stopped.append(i)
        out.append((stopped, *outcome(rt, vu)))
    return out


async def test_iterations_count_and_record_the_same() -> None:
    c_run, py_run = await both(Busy, "", 3)
    assert c_run == py_run
    _, recs, started, completed, *_ = c_run
    assert (started, completed) == (3, 3)
    assert [r[2:] for r in recs] == [(10, 20), (10, 21), (10, 22)]  # vu.iteration: 0, 1, 2


async def test_open_model_samples_and_test_wide_index() -> None:
    now = RealClock.now_ns()
    c_run, py_run = await both(Busy, "", 3, intended_ns=lambda i: now, index=lambda i: 7 + i)
    assert c_run == py_run
    recs = c_run[1]
    assert [r[1] for r in recs if r[0] == "sample"] == ["iteration_lag",
                                                        "iteration_latency"] * 3
    assert c_run[7] == 9  # iteration_in_test: the last index given


async def test_an_error_counts_the_iteration_and_logs_once() -> None:
    c_run, py_run = await both(Busy, "raise", 3)
    c_logs, py_logs = c_run[-1], py_run[-1]
    assert c_run[:-1] == py_run[:-1]
    assert c_run[3:5] == (3, 1)  # completed, failed
    assert len(c_logs) == len(py_logs) == 1 and list(c_logs)[0].startswith("iter:s:ValueError")


async def test_an_abort_ends_the_test_and_counts_the_iteration() -> None:
    c_run, py_run = await both(Busy, "abort", 3)
    assert c_run == py_run
    assert c_run[3] == 3 and c_run[10] == "enough"


async def test_a_base_exception_passes_through_uncounted() -> None:
    c_run, py_run = await both(Busy, "stop", 3)
    assert c_run == py_run
    assert c_run[0] == [2]  # the Stop went through the third (vu.iteration 2)
    assert c_run[2:4] == (3, 2)  # started, completed


async def test_a_cancellation_counts_it_interrupted_and_goes_on_up() -> None:
    out = []
    for c_path in (True, False):
        rt = runtime(Busy, c_path=c_path)
        vu = rt.new_vu()
        vu.data = "hang"
        task = asyncio.create_task(rt.iteration(vu, RealClock.now_ns()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        out.append(outcome(rt, vu))
    assert out[0] == out[1]
    recs = out[0][0]
    assert ("sample", "iteration_latency", math.inf, {"group": "", "scenario": "s"}) in recs
    assert [r[1] for r in recs] == ["data_sent", "data_received", "iteration_lag",
                                    "iteration_latency"]
    assert out[0][1:5] == (1, 0, 0, 1)  # started, completed, failed, interrupted


async def test_an_iteration_that_is_not_a_coroutine_fails_as_in_python(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="loadgen"):
        c_run, py_run = await both(NotAsync, "", 2)
    assert c_run[:-1] == py_run[:-1]
    assert c_run[3:5] == (2, 2)  # completed, failed
    assert "TypeError" in list(c_run[-1])[0]


async def test_the_runner_is_a_coroutine_to_asyncio() -> None:
    rt = runtime(Busy, c_path=True)
    vu = rt.new_vu()
    it = rt.iteration(vu)
    assert asyncio.iscoroutine(it)
    await asyncio.gather(it, rt.iteration(vu))
    never = rt.iteration(vu)
    never.close()  # never started: nothing counted
    assert (rt.started, rt.completed) == (2, 2)
    with pytest.raises(RuntimeError, match="already awaited"):
        it.send(None)


async def test_driven_by_hand_and_under_a_tracer() -> None:
    """send()/__next__ (what the interpreter calls instead of am_send while a tracer such
    as coverage or a debugger is set) give the same steps and end."""
    rt = runtime(Busy, c_path=True)
    vu = rt.new_vu()
    it = rt.iteration(vu)
    assert it.send(None) is None  # the scenario's asyncio.sleep(0): a bare yield
    with pytest.raises(StopIteration):
        it.send(None)
    before = sys.gettrace()
    sys.settrace(lambda *a: None)
    try:
        for _ in range(3):
            await rt.iteration(vu)
    finally:
        sys.settrace(before)
    assert (rt.started, rt.completed) == (4, 4)


class Checked(Scenario):
    async def iteration(self, vu: Any) -> None:
        vu.meter.bytes_sent += 1
        vu.check(vu.iteration, {"even": lambda i: i % 2 == 0, "any": lambda i: True})


async def test_no_reference_left_behind_per_iteration() -> None:
    """20,000 iterations through the C runner and the C check: a reference kept per
    iteration (a record, a float, the coroutine) would grow the traced memory by MBs."""
    import gc
    import tracemalloc

    rt = runtime(Checked, c_path=True)
    vu = rt.new_vu()
    records = rt.recorder.records
    for _ in range(200):
        await rt.iteration(vu, RealClock.now_ns())
    records.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(20_000):
        await rt.iteration(vu, RealClock.now_ns())
        if i % 1000 == 0:
            records.clear()
    records.clear()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert rt.completed == 20_200
    assert grown < 200_000, grown
