"""Baseline and Peak: steady load; the verdict is "the SLOs held", with steady-state figures
(the first `warmup` seconds are left out, as is the graceful stop)."""

from __future__ import annotations

from typing import Any, ClassVar

from loadgen.scripting.scenario import merge_slo
from loadgen.slo import class_budgets, expand
from loadgen.testtypes.base import SteadyTest
from loadgen.testtypes.maths import summarize
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


class Baseline(SteadyTest):
    abstract = True
    kind = "baseline"  # vus 10 (or a rate), 1m, 5s warm-up: SteadyTest's defaults
    p95_ms: ClassVar[float] = 500
    max_error_rate: ClassVar[float] = 0.01
    default_thresholds: ClassVar[dict[str, list[Any]]] = {}

    @classmethod
    def effective_thresholds(cls) -> dict[str, list[Any]]:
        merged: dict[str, list[Any]] = {
            "http_req_duration": [f"p(95)<{cls.p95_ms:g}"],
            "http_req_failed": [f"rate<{cls.max_error_rate:g}"],
        }
        merged.update(cls.default_thresholds)
        merged.update(cls.thresholds or {})
        return merge_slo(merged, expand(class_budgets(cls)))

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        steady = cls.steady_series(view)
        p95, err, n = summarize(steady)
        if n == 0:
            return Verdict(cls.kind, view.scenario, None,
                           "no steady state to judge (no request completed after warm-up)",
                           {"requests": 0})
        secs = sum(b[1] - b[0] for b in steady) or 1.0
        ok = n > 0 and p95 < cls.p95_ms and err < cls.max_error_rate
        figures = {"steady_p95_ms": round(p95, 3), "steady_error_rate": err,
                   "steady_throughput_per_s": round(n / secs, 2), "requests": n,
                   "slo_p95_ms": cls.p95_ms, "slo_error_rate": cls.max_error_rate}
        head = (f"SLOs {'held' if ok else 'broken'}: steady p95 {p95:.1f} ms "
                f"(< {cls.p95_ms:g}), errors {err:.2%} (< {cls.max_error_rate:.2%}), "
                f"{n / secs:.1f} req/s")
        return Verdict(cls.kind, view.scenario, ok, head, figures)


class Peak(Baseline):
    abstract = True
    kind = "peak"
    vus = 50
    p95_ms = 1000
