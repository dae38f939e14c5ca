"""Spike: baseline -> sudden surge -> baseline. The question: does the service survive the
spike, and how fast does it recover? Recovery time runs from the end of the spike until p95
and error rate are back within a tolerance of the pre-spike baseline (two intervals in a row),
and the verdict also says whether the target still answers at the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from loadgen.executors import Executor, RampingArrivalRate, RampingVUs
from loadgen.options import Stage, format_duration, parse_duration
from loadgen.testtypes.base import Shape, TestType
from loadgen.testtypes.maths import Health, recovery_time, summarize, window
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


@dataclass(frozen=True)
class SpikePlan:
    """One run's phases, stretched by --duration: the verdict finds the spike's end here."""

    scale: float
    phases: tuple[tuple[str, float], ...]  # (name, seconds): warm, ramp_up, hold, ...

    def seconds(self, name: str) -> float:
        return dict(self.phases)[name]

    @property
    def spike_end_s(self) -> float:
        """The end of the ramp down, where recovery starts to count."""
        return sum(self.seconds(n) for n in ("warm", "ramp_up", "hold", "ramp_down"))


class Spike(TestType):
    abstract = True
    kind = "spike"
    base_vus: ClassVar[int] = 100
    spike_vus: ClassVar[int] = 5000
    base_rate: ClassVar[float | None] = None  # set both rates for an open-model spike
    spike_rate: ClassVar[float | None] = None
    warm: ClassVar[str] = "1m"
    ramp_up: ClassVar[str] = "1m"
    hold: ClassVar[str] = "30s"
    ramp_down: ClassVar[str] = "30s"
    recover: ClassVar[str] = "2m"
    tolerance: ClassVar[float] = 0.5  # p95 back within +50% of the baseline's
    max_recovery: ClassVar[str | None] = None  # fail the verdict if recovery takes longer
    max_vus: ClassVar[int | None] = None
    stable: ClassVar[int] = 2  # healthy intervals in a row that count as recovered

    @classmethod
    def phases(cls, scale: float = 1.0) -> list[tuple[str, float]]:
        names = ("warm", "ramp_up", "hold", "ramp_down", "recover")
        return [(n, parse_duration(getattr(cls, n)) / 1e9 * scale) for n in names]

    @classmethod
    def _scale(cls, o: Any) -> float:
        if o is None or not o.duration:
            return 1.0
        total = sum(s for _, s in cls.phases())
        return parse_duration(o.duration) / 1e9 / total

    @classmethod
    def plan_for(cls, o: Any = None) -> SpikePlan:
        scale = cls._scale(o)
        return SpikePlan(scale, tuple(cls.phases(scale)))

    @classmethod
    def shape(cls, o: Any) -> Shape:
        plan = cls.plan_for(o)
        return Shape(cls._executor(o, plan), plan)

    @classmethod
    def _executor(cls, o: Any, plan: SpikePlan) -> Executor:
        d = {k: format_duration(round(v * 1e9)) for k, v in plan.phases}
        if cls.spike_rate is not None or o.rps is not None:
            peak = float(o.rps if o.rps is not None else cls.spike_rate or 0)
            base = float(cls.base_rate or 0) * (peak / float(cls.spike_rate or peak))
            stages = [Stage(d["warm"], base), Stage(d["ramp_up"], peak), Stage(d["hold"], peak),
                      Stage(d["ramp_down"], base), Stage(d["recover"], base)]
            vus = o.max_vus or cls.max_vus or max(50, int(peak * 2))
            return RampingArrivalRate(start_rate=base, stages=stages,
                                      pre_allocated_vus=o.vus or max(1, int(base // 5) or 1),
                                      max_vus=vus)
        peak_vus = o.vus or cls.spike_vus
        base_vus = max(1, round(cls.base_vus * peak_vus / cls.spike_vus))
        stages = [Stage(d["warm"], base_vus), Stage(d["ramp_up"], peak_vus),
                  Stage(d["hold"], peak_vus), Stage(d["ramp_down"], base_vus),
                  Stage(d["recover"], base_vus)]
        return RampingVUs(start_vus=base_vus, stages=stages, graceful_ramp_down="5s")

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        plan: SpikePlan = cls.plan_of(view)
        t_warm, t_spike_end = plan.seconds("warm"), plan.spike_end_s
        series = view.series()
        base = window(series, min(1.0, t_warm / 2), t_warm)
        b_p95, b_err, b_n = summarize(base)
        s_p95, s_err, s_n = summarize(window(series, t_warm, t_spike_end))
        health = Health(b_p95, b_err, tolerance=cls.tolerance)
        rec = recovery_time(series, t_spike_end, view.until_s, health, cls.stable)
        tail = [b for b in series if view.until_s - 3 <= b[0] < view.until_s]
        answers = any(b[4] > 0 and b[3] < 1.0 for b in tail)
        limit = parse_duration(cls.max_recovery) / 1e9 if cls.max_recovery else None
        ok: bool | None = rec is not None and answers and (limit is None or rec <= limit)
        seen_after = view.until_s - t_spike_end
        undecided = None
        if b_n == 0:
            undecided = "no baseline (nothing completed during the warm-up) to recover to"
        elif rec is None and answers and seen_after < cls.stable:
            # stopped before `stable` intervals after the spike existed: not a failure
            undecided = (f"the run ended {max(seen_after, 0.0):.1f} s after the spike, "
                         f"before {cls.stable} intervals of recovery could be seen")
        if undecided is not None:
            ok = None
        figures = {"baseline_p95_ms": round(b_p95, 3), "baseline_error_rate": b_err,
                   "spike_p95_ms": round(s_p95, 3), "spike_error_rate": s_err,
                   "spike_requests": s_n, "recovery_s": rec, "answers_after": answers,
                   "spike_end_s": round(t_spike_end, 3)}
        head = (f"cannot tell: {undecided}" if undecided is not None
                else f"recovered {rec:.1f} s after the spike" if rec is not None
                else "did NOT recover after the spike") + (
            f"; during the spike p95 {s_p95:.1f} ms (baseline {b_p95:.1f} ms), "
            f"errors {s_err:.2%}" + ("" if answers else "; target not answering at the end"))
        return Verdict(cls.kind, view.scenario, ok, head, figures)
