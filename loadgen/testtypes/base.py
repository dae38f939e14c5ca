"""TestType: a Scenario that brings its own load shape, default thresholds and verdict.

Subclass a test type in a scenario file, set its knobs as class attributes and write
`iteration`; `--vus`, `--rps` and `--duration` scale the shape instead of replacing it.

What a run works out from the knobs and the flags (a spike's stretched phases, a stress
test's rates) is not kept on the class: `shape()` returns it as a frozen plan beside the
executor, the plan travels in the run's ScenarioSpec, and `monitor()`/`verdict()` get it
back as `view.plan`. Two runs of one class in one process therefore cannot see each
other's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.executors import ConstantArrivalRate, ConstantVUs, Executor
from loadgen.executors.arrivals import pool_for
from loadgen.options import parse_duration
from loadgen.scripting.scenario import Scenario, merge_slo
from loadgen.slo import class_budgets, expand
from loadgen.testtypes.maths import Bucket, window
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


@dataclass(frozen=True)
class Shape:
    """What `shape()` returns: the executor to run and the type's own frozen plan (what it
    computed for this run and its verdict will need; None when it needs nothing)."""

    executor: Executor
    plan: Any = None


@dataclass(frozen=True)
class SteadyPlan:
    """The plan of the steady types (Baseline, Peak, Soak): how long the warm-up left out
    of the verdict is, so a scenario can shorten it for one run without touching the class."""

    warmup_s: float


class TestType(Scenario):
    __test__ = False  # not a pytest class
    abstract = True
    kind: ClassVar[str] = "test"
    #: thresholds the type brings; a file's `thresholds` with the same key replaces them
    default_thresholds: ClassVar[dict[str, list[Any]]] = {}

    @classmethod
    def effective_thresholds(cls) -> dict[str, list[Any]]:
        merged = dict(cls.default_thresholds)
        merged.update(cls.thresholds or {})
        return merge_slo(merged, expand(class_budgets(cls)))

    @classmethod
    def shape(cls, overrides: Any) -> Shape:
        """The executor for this run, scaled by the command line's --vus/--rps/--duration,
        with the plan the verdict will read."""
        raise NotImplementedError

    @classmethod
    def plan_for(cls, overrides: Any = None) -> Any:
        """The plan `shape(overrides)` makes (None: no flags, the class's own numbers)."""
        return None

    @classmethod
    def plan_of(cls, view: RunView) -> Any:
        """The plan of the run being judged; a view made without one (a unit test's) gets
        the plan of the class's own numbers."""
        return view.plan if view.plan is not None else cls.plan_for(None)

    @classmethod
    def steady_shape(cls, o: Any, vus: int, rate: float | None, duration: str) -> Executor:
        """Steady load (Baseline, Peak, Soak): `rate` (or --rps) makes it an open-model
        constant arrival rate, else `vus` (or --vus) loop; --duration replaces the length."""
        duration = o.duration or duration
        rate = o.rps if o.rps is not None else rate
        if rate is not None:
            pre, peak = pool_for(rate, o.vus, o.max_vus)
            return ConstantArrivalRate(rate=rate, duration=duration, pre_allocated_vus=pre,
                                       max_vus=peak)
        return ConstantVUs(vus=o.vus or vus, duration=duration)

    @classmethod
    def monitor(cls, view: RunView) -> str | None:
        """Called every 2 s during the run: a reason to stop early (the answer is known),
        or None to go on."""
        return None

    @classmethod
    def verdict(cls, view: RunView) -> Verdict | None:
        """The answer, from the per-interval series, at the end of the run."""
        return None


class SteadyTest(TestType):
    """Steady load with a warm-up left out of the verdict (Baseline, Peak, Soak)."""

    abstract = True
    vus: ClassVar[int] = 10
    rate: ClassVar[float | None] = None  # set it for an open-model run (iterations/s)
    duration: ClassVar[str] = "1m"
    warmup: ClassVar[str] = "5s"

    @classmethod
    def plan_for(cls, o: Any = None) -> SteadyPlan:
        return SteadyPlan(parse_duration(cls.warmup) / 1e9)

    @classmethod
    def shape(cls, o: Any) -> Shape:
        return Shape(cls.steady_shape(o, cls.vus, cls.rate, cls.duration), cls.plan_for(o))

    @classmethod
    def steady_series(cls, view: RunView) -> list[Bucket]:
        """The intervals after the warm-up (at most a quarter of the run) to its end."""
        plan: SteadyPlan = cls.plan_of(view)
        warm = min(plan.warmup_s, view.until_s / 4)
        return window(view.series(), warm, view.until_s)

