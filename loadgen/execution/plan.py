"""From Scenario classes + command-line overrides to runnable ScenarioSpecs.

k6's shortcut rules (k6-compat.md §4.3) decide the executor: `--vus/--duration` make
constant-vus, `--iterations` shared-iterations, `--stage` ramping-vus, except that
`--duration` alone keeps a scenario's own executor, scaled (scaling.py); beyond k6, `--rps N`
makes every selected scenario an open-model constant-arrival-rate (N iterations/s shared by
weight) - the user's meaning of "500 rps sustained". Every problem is collected and raised
at once (exit 104).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

from loadgen.errors import ConfigError
from loadgen.execution.engine import ScenarioSpec
from loadgen.execution.ordering import after_problems, planned_offsets
from loadgen.execution.scaling import scale_all
from loadgen.execution.segments import FULL_TUPLE, ExecutionTuple
from loadgen.executors import (
    ConstantArrivalRate,
    ConstantVUs,
    Executor,
    PerVUIterations,
    RampingVUs,
    SharedIterations,
)
from loadgen.executors.arrivals import pool_for
from loadgen.options import Stage, parse_duration
from loadgen.scripting.scenario import SCENARIO_NAME_RE, Scenario
from loadgen.testtypes.base import Shape, TestType

log = logging.getLogger("loadgen")


@dataclass
class Overrides:
    """The execution flags of `loadgen run` (None = not given)."""

    vus: int | None = None
    duration: str | None = None
    iterations: int | None = None
    stages: list[Stage] = field(default_factory=list)
    rps: float | None = None
    max_vus: int | None = None
    scenarios: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: --execution-segment in --execution-segment-sequence (the whole test by default)
    segment: ExecutionTuple = FULL_TUPLE

    @property
    def execution_segment(self) -> str | None:
        """The segment as given (`1/3:2/3`) for result headers; None for a whole test."""
        return None if self.segment.is_full else str(self.segment.segment)


def shortcut_executor(o: Overrides, problems: list[str]) -> Executor | None:
    """The executor the shortcut flags ask for, or None when they ask for none."""
    if o.iterations is not None and o.stages:
        problems.append("using `iterations` and `stages` options simultaneously is not allowed")
    if o.duration is not None and o.stages:
        problems.append("using `duration` and `stages` options simultaneously is not allowed")
    if o.rps is not None and (o.stages or o.iterations is not None):
        problems.append("--rps runs an open-model constant arrival rate for --duration; it "
                        "cannot be combined with --stage or --iterations")
    if o.duration is not None:
        try:
            if parse_duration(o.duration, what="duration") == 0:
                problems.append("duration must be more than 0")
        except ValueError as e:
            problems.append(str(e))
    if problems:
        return None
    if o.stages:
        return RampingVUs(stages=list(o.stages), start_vus=o.vus if o.vus is not None else 1)
    if o.iterations is not None:
        return SharedIterations(vus=o.vus if o.vus is not None else 1, iterations=o.iterations,
                                max_duration=o.duration or "10m")
    if o.duration is not None and o.rps is None:
        return ConstantVUs(vus=o.vus if o.vus is not None else 1, duration=o.duration)
    return None


def duration_only(o: Overrides) -> bool:
    """Only --duration among the load flags: designed scenarios are scaled, not replaced."""
    return (o.duration is not None and o.vus is None and o.iterations is None and not o.stages
            and o.rps is None)


def class_problems(cls: type[Scenario], name: str) -> list[str]:
    """What is wrong with a scenario class itself, beyond its executor: a plain `def
    iteration` would return at once and spin thousands of times a second, and thresholds
    given as a list cannot be matched to metrics."""
    problems = []
    for method in ("iteration", "setup", "teardown"):
        fn = getattr(cls, method, None)
        if fn is not None and not inspect.iscoroutinefunction(fn):
            problems.append(f"scenario {name}: {method} must be `async def {method}(self, "
                            f"...)`, got a plain function (it would never wait for anything)")
    if not isinstance(cls.thresholds, dict):
        problems.append(f"scenario {name}: thresholds must be a mapping of metric to a list of "
                        f"expressions, e.g. {{\"http_req_duration\": [\"p(95)<300\"]}}, got a "
                        f"{type(cls.thresholds).__name__}")
    return problems


def nonfinite_problems(ex: Executor) -> list[str]:
    """nan and inf pass every `> 0` check (nan compares false with everything), so they are
    refused by name before an executor runs a nan rate or an endless one."""
    out = []
    for f in dataclasses.fields(ex):
        v = getattr(ex, f.name)
        if isinstance(v, float) and not math.isfinite(v):
            out.append(f"{f.name} must be a finite number, got {v}")
    return out


def rps_executor(o: Overrides, rate: float, problems: list[str]) -> Executor | None:
    if o.duration is None:
        problems.append("--rps needs --duration (how long to sustain the rate)")
        return None
    if rate <= 0:
        problems.append(f"--rps must be more than 0, got {o.rps}")
        return None
    pre, peak = pool_for(rate, o.vus, o.max_vus)
    return ConstantArrivalRate(rate=rate, duration=o.duration, pre_allocated_vus=pre,
                               max_vus=peak)


def build_plan(classes: list[type[Scenario]], o: Overrides,
               notes: list[str] | None = None) -> list[ScenarioSpec]:
    """The runnable specs; `notes` receives banner lines about what the flags changed."""
    problems: list[str] = []
    by_name: dict[str, type[Scenario]] = {}
    for cls in classes:
        name = cls.scenario_name()
        if not SCENARIO_NAME_RE.match(name):
            problems.append(f"scenario name {name!r} (class {cls.__name__}) must match "
                            f"{SCENARIO_NAME_RE.pattern}")
        if name in by_name:
            problems.append(f"two scenarios are named {name!r}: {by_name[name].__name__} and "
                            f"{cls.__name__} (set `name = ...` on one)")
        by_name[name] = cls
    selected = list(by_name)
    if o.scenarios:
        unknown = [n for n in o.scenarios if n not in by_name]
        if unknown:
            problems.append(f"unknown scenario(s) {', '.join(unknown)}; this file has: "
                            f"{', '.join(by_name)}")
        selected = [n for n in o.scenarios if n in by_name]
    for name in selected:
        problems += class_problems(by_name[name], name)
    shortcut = shortcut_executor(o, problems)
    scaled: dict[str, Executor] = {}
    if shortcut is not None and duration_only(o):
        designed = {n: by_name[n].executor for n in selected
                    if isinstance(by_name[n].executor, Executor)
                    and not issubclass(by_name[n], TestType)}
        if designed:
            chains = {n: a for n in designed
                      if isinstance(a := getattr(by_name[n], "start_after", None), str)}
            scaled, note = scale_all(designed,  # type: ignore[arg-type]
                                     parse_duration(o.duration, what="duration"), chains)
            if notes is not None:
                notes.append(note)
    def takes_rps(c: type[Scenario]) -> bool:
        """--rps drives plain scenarios with weight > 0; test types scale their own shape and
        weight-0 scenarios (e.g. sockets held open beside the rate) keep their executor."""
        return c.weight > 0 and not issubclass(c, TestType)

    total_weight = sum(by_name[n].weight for n in selected if takes_rps(by_name[n])) or 1.0
    env = {**os.environ, **o.env}
    specs: list[ScenarioSpec] = []
    lengths: dict[str, int] = {}  # start_after: how long each one may hold its followers
    for name in selected:
        cls = by_name[name]
        ex: Executor | None
        plan: Any = None
        if issubclass(cls, TestType):  # a test type scales its own shape
            if o.stages or o.iterations is not None:
                problems.append(f"scenario {name} is a {cls.kind} test with its own load shape: "
                                "scale it with --vus, --rps and --duration, not --stage or "
                                "--iterations")
                continue
            try:
                shape = cls.shape(o)
            except ValueError as e:
                problems.append(f"scenario {name}: {e}")
                continue
            if not isinstance(shape, Shape):
                problems.append(f"scenario {name}: shape() must return Shape(executor, plan), "
                                f"got {shape!r}")
                continue
            ex, plan = shape.executor, shape.plan
        elif o.rps is not None and takes_rps(cls):
            ex = rps_executor(o, o.rps * cls.weight / total_weight, problems)
        elif name in scaled:
            ex = scaled[name]
        elif shortcut is not None:
            ex = dataclasses.replace(shortcut)
        elif isinstance(cls.executor, Executor):
            ex = dataclasses.replace(cls.executor)
            if o.vus is not None:
                log.warning("--vus is ignored for scenario %s: its executor sets the load "
                            "(use --duration, --iterations, --stage or --rps to override)", name)
        elif cls.executor is None:
            ex = PerVUIterations(vus=1, iterations=1)
        else:
            problems.append(f"scenario {name}: executor must be one of the executor classes "
                            f"(ConstantVUs(...), ConstantArrivalRate(...), ...), got "
                            f"{cls.executor!r}")
            continue
        if ex is None:
            continue
        errs = ex.validate() + nonfinite_problems(ex)
        if not errs:
            lengths[name] = ex.total_ns()
            start_ns = ex.start_time_ns
            ex = ex.for_segment(o.segment)
            if ex is None:  # it ends here as it starts: a follower does not wait for it
                lengths[name] = start_ns
                log.warning("scenario %s has no work in execution segment %s: skipped in "
                            "this instance", name, o.segment)
                continue
        how = " (its timeline scaled to --duration)" if name in scaled else ""
        problems += [f"scenario {name} has configuration errors{how}: {e}" for e in errs]
        cap = getattr(cls, "max_response_bytes", None)
        if cap is not None and (type(cap) is not int or cap < 0):
            problems.append(f"scenario {name}: max_response_bytes must be a whole number of "
                            f"bytes >= 0 (0: no cap), got {cap!r}")
        base_url = cls.base_url or env.get("BASE_URL") or cls.default_base_url
        expected = cls.expected_statuses
        specs.append(ScenarioSpec(name, cls, ex, dict(cls.tags or {}), base_url, expected,
                                  plan))
    after = {n: getattr(by_name[n], "start_after", None) for n in selected}
    problems += after_problems(after, selected, list(by_name))
    if problems:
        raise ConfigError(problems)
    order(specs, {n: a for n, a in after.items() if isinstance(a, str)}, lengths)
    return specs


def order(specs: list[ScenarioSpec], after: dict[str, str], lengths: dict[str, int]) -> None:
    """Each spec's `start_after` and planned offset. A predecessor with no work in this
    segment ends on this instance as it starts, so its followers do not wait for it."""
    offsets = planned_offsets({n: after.get(n) for n in lengths}, lengths)
    for spec in specs:
        spec.start_after = after.get(spec.name)
        spec.offset_ns = offsets.get(spec.name, 0)


def describe(specs: list[ScenarioSpec], segment: ExecutionTuple = FULL_TUPLE) -> list[str]:
    """k6's banner: a header line plus one line per scenario (by start time, then name);
    a split test shows its share, and which segment of which sequence this instance runs."""
    peak = sum(s.executor.peak_vus() for s in specs)
    longest = max((s.offset_ns + s.executor.total_ns() for s in specs), default=0)
    from loadgen.options import format_duration

    lines = [] if segment.is_full else [f"execution: segment {segment}"]
    plural = "s" if len(specs) != 1 else ""
    lines += [f"scenarios: ({segment.share_label()}) {len(specs)} scenario{plural}, "
              f"{peak} max VUs, {format_duration(longest)} max duration (incl. graceful stop):"]
    for s in sorted(specs, key=lambda s: (s.offset_ns + s.executor.start_time_ns, s.name)):
        after = (f", after {s.start_after} ends (at the latest "
                 f"{format_duration(s.offset_ns + s.executor.start_time_ns)})"
                 if s.start_after else "")
        lines.append(f"         * {s.name}: {s.executor.describe()}{after}")
    return lines

