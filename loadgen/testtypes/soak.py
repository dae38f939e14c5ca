"""Soak: long steady load. The question: does anything drift? p95, throughput and error rate
of the last window are compared with the first (after warm-up): worse by more than the
tolerance AND significant (Mann-Whitney U on the per-interval values) is drift. When the
target is monitored (--monitor-pid), its memory growth is part of the answer."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from loadgen.testtypes.base import SteadyTest
from loadgen.testtypes.maths import drift
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

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        steady = cls.steady_series(view)
        if len(steady) < 4:
            return Verdict(cls.kind, view.scenario, None, "too short to judge drift",
                           {"intervals": len(steady)})
        k = max(2, int(len(steady) * cls.window_share))
        first, last = steady[:k], steady[-k:]
        drifts = [
            drift("p95_ms", [b[2] for b in first], [b[2] for b in last],
                  tolerance=cls.tolerance),
            drift("throughput", [b[4] / (b[1] - b[0]) for b in first],
                  [b[4] / (b[1] - b[0]) for b in last], tolerance=cls.tolerance,
                  higher_is_worse=False),
            drift("error_rate", [b[3] for b in first], [b[3] for b in last],
                  tolerance=cls.tolerance),
        ]
        if drifts[2].last - drifts[2].first <= 0.001:  # a relative jump of a tiny error rate
            drifts[2] = dataclasses.replace(drifts[2], drifted=False)
        growth = None
        if view.store is not None:
            sink = view.store.get("target_rss_growth")
            if sink is not None and not sink.empty:
                growth = sink.aggregate("value", 0)
        mem_ok = growth is None or growth < cls.max_memory_growth
        ok = mem_ok and not any(d.drifted for d in drifts)
        worst = [d for d in drifts if d.drifted]
        head = ("no drift" if not worst else "drift: " + ", ".join(
            f"{d.metric} {d.change:+.0%} (p={d.p_value:.3g})" for d in worst))
        if growth is not None:
            head += f"; target memory {growth:+.1%} (limit {cls.max_memory_growth:.0%})"
        figures: dict[str, Any] = {d.metric: {"first": d.first, "last": d.last,
                                              "change": d.change, "p_value": d.p_value,
                                              "drifted": d.drifted} for d in drifts}
        figures["target_rss_growth"] = growth
        figures["window_intervals"] = k
        return Verdict(cls.kind, view.scenario, ok, head, figures)
