"""Soak: long steady load. The question: does anything drift? p95, throughput and error rate
of the last window are compared with the first (after warm-up): worse by more than the
tolerance AND significant (Mann-Whitney U on the per-interval values) is drift. When the
target is monitored (--monitor-pid), its memory growth is part of the answer.

A soak too short for its windows to ever reach significance (fewer than `min_window`
intervals each), or one where a metric got worse beyond the tolerance without
significance, is undecided (`?`): "no drift" is said only when the data could have shown
one."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from loadgen.testtypes.base import SteadyTest
from loadgen.testtypes.maths import drift, min_window
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


class Soak(SteadyTest):
    abstract = True
    kind = "soak"
    vus: ClassVar[int] = 500
    rate: ClassVar[float | None] = None
    duration: ClassVar[str] = "4h"
    warmup: ClassVar[str] = "1m"
    window_share: ClassVar[float] = 0.2  # first and last 20% of the steady part
    tolerance: ClassVar[float] = 0.2
    max_memory_growth: ClassVar[float] = 0.10

    alpha: ClassVar[float] = 0.01  # significance level of the Mann-Whitney test

    @classmethod
    def steady_needed(cls) -> int:
        """Steady intervals a run needs before its windows can reach significance."""
        need = min_window(cls.alpha)
        n = need
        while max(2, int(n * cls.window_share)) < need:
            n += 1
        return n

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        steady = cls.steady_series(view)
        k = max(2, int(len(steady) * cls.window_share))
        need = min_window(cls.alpha)
        if k < need:
            # too few intervals per window: no drift could ever be significant, so "no
            # drift" would be a pass the data cannot give
            return Verdict(
                cls.kind, view.scenario, None,
                f"too short to judge drift: {len(steady)} steady intervals give windows of "
                f"{k}; the Mann-Whitney test needs >= {need} per window to reach "
                f"p < {cls.alpha:g} (>= {cls.steady_needed()} steady intervals)",
                {"intervals": len(steady), "window_intervals": k, "window_needed": need})
        first, last = steady[:k], steady[-k:]
        drifts = [
            drift("p95_ms", [b[2] for b in first], [b[2] for b in last],
                  tolerance=cls.tolerance, alpha=cls.alpha),
            drift("throughput", [b[4] / (b[1] - b[0]) for b in first],
                  [b[4] / (b[1] - b[0]) for b in last], tolerance=cls.tolerance,
                  alpha=cls.alpha, higher_is_worse=False),
            drift("error_rate", [b[3] for b in first], [b[3] for b in last],
                  tolerance=cls.tolerance, alpha=cls.alpha),
        ]
        if drifts[2].last - drifts[2].first <= 0.001:  # a relative jump of a tiny error rate
            drifts[2] = dataclasses.replace(drifts[2], drifted=False, decided=True)
        growth = None
        if view.store is not None:
            sink = view.store.get("target_rss_growth")
            if sink is not None and not sink.empty:
                growth = sink.aggregate("value", 0)
        mem_ok = growth is None or growth < cls.max_memory_growth
        worst = [d for d in drifts if d.drifted]
        open_ = [d for d in drifts if not d.decided]
        ok: bool | None = mem_ok and not worst
        if ok and open_:
            ok = None  # worse beyond the tolerance, not significantly: cannot tell
        if worst:
            head = "drift: " + ", ".join(
                f"{d.metric} {d.change:+.0%} (p={d.p_value:.3g})" for d in worst)
        elif open_:
            head = "cannot tell: " + ", ".join(
                f"{d.metric} {d.change:+.0%} but not significant (p={d.p_value:.3g} >= "
                f"{cls.alpha:g})" for d in open_)
        else:
            head = "no drift"
        if growth is not None:
            head += f"; target memory {growth:+.1%} (limit {cls.max_memory_growth:.0%})"
        figures: dict[str, Any] = {d.metric: {"first": d.first, "last": d.last,
                                              "change": d.change, "p_value": d.p_value,
                                              "drifted": d.drifted, "decided": d.decided}
                                   for d in drifts}
        figures["target_rss_growth"] = growth
        figures["window_intervals"] = k
        return Verdict(cls.kind, view.scenario, ok, head, figures)
