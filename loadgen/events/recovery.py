"""Recovery verdicts: after a fault event, how long until the target is back to normal?

`Recovery(after="kill-consumer", until="restart-consumer", within="30s")` measures from the
end of the fault (the end of the `until` event, or of the `after` event itself when the
fault is a single action) until p95 and the error rate are back within tolerance of the
baseline before the fault, for `stable` intervals in a row: Spike's maths
(loadgen/testtypes/maths.py) on the same per-interval series. It also reports the peak p95
and error rate from the fault's start until recovery, and whether the target kept
answering: a 503 is an answer, a refused connection or a timeout (status 0) is not.

The verdict is `?` (never a pass) when it cannot be judged: the fault never ran, there is
no baseline, or the run ended before recovery could be seen or the `within=` deadline had
passed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen.options import parse_duration
from loadgen.testtypes.maths import Bucket, Health, recovery_time, summarize, window
from loadgen.testtypes.verdict import Verdict

GATE_RE = re.compile(r"^\s*(recovery_s|peak_p95_ms|peak_error_rate)\s*(<=|<|>=|>|==|!=)\s*"
                     r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}


class Recovery:
    """Declared in a scenario's `recovery = [...]`; checked by the planner (exit 104)."""

    def __init__(self, after: Any, until: Any = None, *, tolerance: Any = 0.5,
                 within: Any = None, gate: Any = (), must_answer: Any = False,
                 stable: Any = 2, scenario: Any = None) -> None:
        self.after = after
        self.until = until
        self.tolerance = tolerance
        self.within = within
        self.gate = gate
        self.must_answer = must_answer
        self.stable = stable
        self.scenario = scenario

    def __repr__(self) -> str:
        return f"Recovery(after={self.after!r}, until={self.until!r})"

    def checked(self, declared_by: str, problems: list[str]) -> RecoveryPlan | None:
        where = f"scenario {declared_by}: {self!r}"
        n = len(problems)
        for label, ref in (("after", self.after), ("until", self.until)):
            if (ref is not None or label == "after") and not (isinstance(ref, str) and ref):
                problems.append(f"{where}: {label}= must be an event name, got {ref!r}")
        tol = self.tolerance
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < 1e6:
            problems.append(f"{where}: tolerance must be a number >= 0 (0.5: p95 back within "
                            f"+50% of the baseline's), got {tol!r}")
        within_s = None
        if self.within is not None:
            try:
                within_s = parse_duration(self.within, what="within") / 1e9
            except ValueError as e:
                problems.append(f"{where}: {e}")
        gates: list[tuple[str, str, float, str]] = []
        raw = [self.gate] if isinstance(self.gate, str) else self.gate
        if not isinstance(raw, list | tuple):
            problems.append(f"{where}: gate must be a list of expressions like "
                            f"'recovery_s<30', got {self.gate!r}")
            raw = []
        for g in raw:
            m = GATE_RE.match(g) if isinstance(g, str) else None
            if m is None:
                problems.append(f"{where}: gate {g!r} is not FIGURE OP NUMBER with FIGURE one "
                                "of recovery_s, peak_p95_ms, peak_error_rate (e.g. "
                                "'recovery_s<30')")
                continue
            gates.append((m[1], m[2], float(m[3]), g.strip()))
        if not isinstance(self.must_answer, bool):
            problems.append(f"{where}: must_answer must be True or False")
        if isinstance(self.stable, bool) or not isinstance(self.stable, int) or self.stable < 1:
            problems.append(f"{where}: stable must be a whole number of intervals >= 1")
        if self.scenario is not None and not isinstance(self.scenario, str):
            problems.append(f"{where}: scenario must be a scenario name")
        if len(problems) > n:
            return None
        return RecoveryPlan(self.after, self.until, float(tol), within_s, tuple(gates),
                            bool(self.must_answer), int(self.stable),
                            self.scenario or declared_by, declared_by)


@dataclass(frozen=True)
class RecoveryPlan:
    after: str
    until: str | None
    tolerance: float
    within_s: float | None
    gates: tuple[tuple[str, str, float, str], ...]
    must_answer: bool
    stable: int
    scenario: str  # whose traffic is measured
    declared_by: str


@dataclass(frozen=True)
class Period:
    """One sampling period of the answer watch, on the series' time axis (seconds)."""

    t0: float
    t1: float
    total: int  # requests that completed
    unanswered: int  # of which got no HTTP response (status 0)


def kept_answering(periods: Sequence[Period], t0: float, t1: float) -> bool:
    """No period overlapping [t0, t1) in which requests completed and none was answered."""
    return not any(p.t1 > t0 and p.t0 < t1 and p.total > 0 and p.unanswered >= p.total
                   for p in periods)


@dataclass
class RecoveryResult:
    plan: RecoveryPlan
    passed: bool | None
    recovery_s: float | None
    peak_p95_ms: float | None
    peak_error_rate: float | None
    kept_answering: bool | None
    headline: str
    figures: dict[str, Any] = field(default_factory=dict)
    #: the fault's start to its recovery (or the end), run clock: what delivery counts use
    window_ns: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        """One row of `loadgen.recovery` (the shared shape)."""
        return {"event": self.plan.after,
                "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
                "peak_p95_ms": None if self.peak_p95_ms is None else round(self.peak_p95_ms, 3),
                "peak_error_rate": self.peak_error_rate, "kept_answering": self.kept_answering,
                "passed": self.passed}

    def verdict(self) -> Verdict:
        return Verdict("recovery", self.plan.scenario, self.passed, self.headline,
                       self.figures)


def undecided(plan: RecoveryPlan, why: str) -> RecoveryResult:
    return RecoveryResult(plan, None, None, None, None, None, f"cannot tell: {why}",
                          {"after": plan.after, "until": plan.until})


def add_messages(r: RecoveryResult, messages: dict[str, float],
                 window: tuple[int, int] | None = None) -> None:
    """The run's delivery counts beside a verdict, and `window`: (sent, lost) of the
    messages sent from the fault's start to its recovery, when a tracker was used (under
    --workers: every worker's, summed at the coordinator by loadgen/fleet/deliveries.py)."""
    if not messages.get("messages_sent"):
        return
    r.figures.update(messages)
    if window is not None:
        r.figures.update(fault_window_sent=window[0], fault_window_lost=window[1])
        r.headline += (f"; messages sent from the fault to its recovery: {window[0]}, "
                       f"{window[1]} lost")
    r.headline += (f"; messages (whole run): {messages['messages_delivered']:.0f}/"
                   f"{messages['messages_sent']:.0f} delivered, "
                   f"{messages['messages_lost']:.0f} lost, "
                   f"{messages['messages_duplicated']:.0f} duplicated")


def judge(plan: RecoveryPlan, series: Sequence[Bucket], fault_start_s: float,
          fault_end_s: float, until_s: float, periods: Sequence[Period] | None = None,
          ) -> RecoveryResult:
    """The verdict on one scenario's series (times relative to its start): the fault ran
    over [fault_start_s, fault_end_s]; the load was seen until `until_s`. Pure: unit-tested
    on synthetic series."""
    base = window(series, min(1.0, fault_start_s / 2), fault_start_s)
    b_p95, b_err, b_n = summarize(base)
    if b_n == 0:
        return undecided(plan, "no baseline (nothing completed before the fault) to recover to")
    health = Health(b_p95, b_err, tolerance=plan.tolerance)
    rec = recovery_time(series, fault_end_s, until_s, health, plan.stable)
    effect_end = until_s if rec is None else fault_end_s + rec + plan.stable
    during = [b for b in window(series, fault_start_s, effect_end) if b[4] > 0]
    peak_p95 = max((b[2] for b in during), default=None)
    peak_err = max((b[3] for b in during), default=None)
    answering = (None if periods is None
                 else kept_answering(periods, fault_start_s, effect_end) and bool(during))
    seen_after = until_s - fault_end_s
    figures: dict[str, Any] = {
        "after": plan.after, "until": plan.until, "fault_start_s": round(fault_start_s, 3),
        "fault_end_s": round(fault_end_s, 3), "window_end_s": round(effect_end, 3),
        "baseline_p95_ms": round(b_p95, 3),
        "baseline_error_rate": b_err, "recovery_s": rec, "peak_p95_ms": peak_p95,
        "peak_error_rate": peak_err, "kept_answering": answering, "within_s": plan.within_s,
        "gates": [g[3] for g in plan.gates]}
    passed: bool | None
    why: list[str] = []
    if rec is None:
        need = plan.within_s if plan.within_s is not None else float(plan.stable)
        if seen_after < need:
            passed = None
            what = (f"the {plan.within_s:g} s allowed" if plan.within_s is not None
                    else f"{plan.stable} intervals of recovery")
            head = (f"cannot tell: the run ended {max(seen_after, 0.0):.1f} s after the fault, "
                    f"before {what} could be seen")
        else:
            passed = False
            head = (f"did NOT recover in the {seen_after:.1f} s after {plan.until or plan.after}"
                    " (p95 and errors never back to the baseline's for "
                    f"{plan.stable} intervals)")
    else:
        passed = True
        if plan.within_s is not None and rec > plan.within_s:
            passed = False
            why.append(f"more than {plan.within_s:g} s")
        head = f"recovered {rec:.1f} s after {plan.until or plan.after}"
    figs = {"recovery_s": rec, "peak_p95_ms": peak_p95, "peak_error_rate": peak_err}
    if passed is not None:
        for fig, op, value, source in plan.gates:
            v = figs[fig]
            if v is None or not OPS[op](float(v), value):
                passed = False
                why.append(f"{source} failed")
        if plan.must_answer and answering is not True:
            passed = False
            why.append("the target stopped answering")
    if why:
        head += " (" + "; ".join(why) + ")"
    head += (f"; during the fault p95 peaked at {peak_p95 or 0:.1f} ms (baseline {b_p95:.1f} "
             f"ms), errors at {peak_err or 0:.2%}")
    if answering is not None:
        head += ("; the target kept answering" if answering
                 else "; the target stopped answering (connections refused or timed out)")
    return RecoveryResult(plan, passed, rec, peak_p95, peak_err, answering, head, figures)
