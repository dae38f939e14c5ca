"""Stress / breakpoint: raise the arrival rate in steps until an SLO breaks (p95, error
rate, or the offered rate not being achieved), stop early, and report the maximum
sustainable rate, the SLO that broke first, and the curve (rate vs p95/errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.executors import RampingArrivalRate
from loadgen.options import Stage, format_duration, parse_duration
from loadgen.testtypes.base import Shape, TestType
from loadgen.testtypes.maths import Step, first_break, summarize, window
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


@dataclass(frozen=True)
class StressPlan:
    """One run's schedule: the offered rates (up to --rps) and each step's length (the
    --duration shared among the steps); the monitor and the verdict measure these steps."""

    rates: tuple[float, ...]
    step_ns: int

    @property
    def step_s(self) -> float:
        return self.step_ns / 1e9


class Stress(TestType):
    abstract = True
    kind = "stress"
    start_rate: ClassVar[float] = 10
    step_rate: ClassVar[float] = 10
    max_rate: ClassVar[float] = 1000
    step_duration: ClassVar[str] = "30s"
    p95_ms: ClassVar[float] = 500
    max_error_rate: ClassVar[float] = 0.01
    keep_up: ClassVar[float] = 0.95  # achieved/offered below this breaks the schedule SLO
    max_vus: ClassVar[int | None] = None
    settle: ClassVar[float] = 1.0  # seconds at the start of each step left out (transition)

    @classmethod
    def rates(cls, o: Any = None) -> list[float]:
        top = float(o.rps) if o is not None and o.rps is not None else cls.max_rate
        out, r = [], float(cls.start_rate)
        while r <= top + 1e-9:
            out.append(r)
            r += cls.step_rate
        return out

    @classmethod
    def plan_for(cls, o: Any = None) -> StressPlan:
        rates = cls.rates(o)
        step = parse_duration(cls.step_duration)
        if o is not None and o.duration:  # --duration: the whole ramp, evenly among the steps
            step = parse_duration(o.duration) // len(rates)
        return StressPlan(tuple(rates), step)

    @classmethod
    def shape(cls, o: Any) -> Shape:
        plan = cls.plan_for(o)
        rates = plan.rates
        stages: list[Stage] = []
        for r in rates:
            stages += [Stage("0s", r), Stage(format_duration(plan.step_ns), r)]
        ex = RampingArrivalRate(start_rate=rates[0], stages=stages,
                                pre_allocated_vus=o.vus or max(5, int(rates[0])),
                                max_vus=o.max_vus or cls.max_vus or max(100, int(rates[-1] * 2)))
        return Shape(ex, plan)

    @classmethod
    def steps(cls, view: RunView, upto_s: float, first: int = 0) -> list[Step]:
        """Measured steps whose window ended before `upto_s`, from step no. `first` on;
        each step reads its own window only."""
        plan: StressPlan = cls.plan_of(view)
        step_s = plan.step_s
        out: list[Step] = []
        for i, r in enumerate(plan.rates):
            if i < first:
                continue
            t0, t1 = i * step_s + cls.settle, (i + 1) * step_s
            if t1 > upto_s:
                break
            p95, err, n = summarize(window(view.series(t0=t0, t1=t1), t0, t1))
            done = sum(c for a, b, c in view.counts("iterations", t0, t1)
                       if t0 <= (a + b) / 2 < t1)
            dropped = sum(c for a, b, c in view.counts("dropped_iterations", t0, t1)
                          if t0 <= (a + b) / 2 < t1)
            achieved = done / (t1 - t0) if t1 > t0 else 0.0
            if dropped:
                achieved = min(achieved, r * (1 - dropped / max(r * (t1 - t0), 1)))
            out.append(Step(r, p95, err, achieved, n))
        return out

    @classmethod
    def monitor(cls, view: RunView) -> str | None:
        """Judge the steps completed since the last tick only (`view.memo` remembers how
        many held), so a tick costs one step's intervals, not the whole run's."""
        held: list[Step] = view.memo.setdefault("steps", [])
        steps = cls.steps(view, view.elapsed_s - 1.0, len(held))  # one interval's margin
        i, why = first_break(steps, p95_ms=cls.p95_ms, error_rate=cls.max_error_rate,
                             keep_up=cls.keep_up)
        if i is None:
            # measured while their intervals were recent (at full resolution): the verdict
            # reuses them, as old intervals are merged into coarser ones in a long run
            held.extend(steps)
            view.memo["steps_held"] = len(held)
            return None
        return f"breakpoint found at {steps[i].rate:g}/s ({why}); stopping the stress test"

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        held: list[Step] = list(view.memo.get("steps", ()))
        steps = held + cls.steps(view, view.elapsed_s + 1e-6, len(held))
        i, why = first_break(steps, p95_ms=cls.p95_ms, error_rate=cls.max_error_rate,
                             keep_up=cls.keep_up)
        sustainable = steps[i - 1].rate if i else (None if i == 0 else
                                                    (steps[-1].rate if steps else None))
        curve = [{"rate": s.rate, "p95_ms": round(s.p95_ms, 3), "error_rate": s.error_rate,
                  "achieved_rate": round(s.achieved_rate, 2)} for s in steps]
        if i is None:
            head = (f"no SLO broke up to {steps[-1].rate:g}/s" if steps
                    else "no complete step was measured")
        else:
            head = (f"max sustainable rate {sustainable:g}/s; broke at {steps[i].rate:g}/s: "
                    f"{why}" if sustainable is not None
                    else f"broke at the first step ({steps[0].rate:g}/s): {why}")
        details = [f"{c['rate']:>8g}/s  p95 {c['p95_ms']:>9.2f} ms  errors "
                   f"{c['error_rate']:6.2%}  achieved {c['achieved_rate']:g}/s" for c in curve]
        figures = {"max_sustainable_rate": sustainable,
                   "broken_at": steps[i].rate if i is not None else None,
                   "first_broken_slo": why or None, "curve": curve}
        # no complete step: nothing measured, so no answer (not a failure of the target)
        return Verdict(cls.kind, view.scenario, True if steps else None, head, figures,
                       details)
