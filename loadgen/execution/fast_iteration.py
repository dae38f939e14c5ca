"""The iteration runner in C (`_iteration.c`), where it was built: ScenarioRuntime.iteration's
bookkeeping around the scenario's coroutine without a coroutine frame of its own.

Its Python twin is `ScenarioRuntime.iteration` itself, which a runtime keeps where this does
not apply: no C build, LOADGEN_NO_EXTENSIONS=1 (read at import), or a clock other than the
real one (the C reads perf_counter_ns as RealClock.now_ns does; tests on a fake clock run
the twin). Both make the same records and counts (tests/test_fast_iteration.py runs them
side by side); an exception out of the scenario goes to the runtime's own except clauses
(`ScenarioRuntime._raised`) either way.

Why: with the plain GET in C, the runner was ~107 of the ~280 bytecodes left in an HTTP
iteration, and a coroutine frame every response resumes on its way to the scenario
(benchmarks/bench_instructions.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from loadgen import extensions
from loadgen.clock import RealClock
from loadgen.metrics.model import ITER, SAMPLE
from loadgen.metrics.registry import Recorder
from loadgen.net.meter import Meter
from loadgen.scripting.context import current_vu
from loadgen.scripting.vu import VU

_C = extensions.load("loadgen.execution._iteration")
if _C is not None:
    _C.setup(VU, Meter, Recorder, ITER, SAMPLE)

#: runner(vu, intended_ns=None, index=None) -> the iteration's awaitable
Runner = Callable[..., Coroutine[Any, Any, None]]


def runner(rt: Any) -> Runner | None:
    """The C runner for `rt` (a ScenarioRuntime: not imported, it imports this), or None
    where the Python coroutine must run."""
    if _C is None or type(rt.clock) is not RealClock or type(rt.recorder) is not Recorder:
        return None
    r: Runner = _C.Runner(rt, rt.recorder, rt._iterations_in_test.next, rt._m_lag,
                          rt._m_latency, current_vu, rt._raised)
    return r
