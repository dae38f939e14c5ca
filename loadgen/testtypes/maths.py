"""Verdict maths on per-interval series: pure functions, unit-tested on synthetic data.

A series is a list of (t_start_s, t_end_s, p95_ms, error_rate, count) buckets in time
order; an interval with no completed request is simply absent, and absence counts as
"not healthy" (a target that answers nothing has not recovered).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Bucket = tuple[float, float, float, float, int]  # t0, t1, p95 ms, error rate, count


@dataclass(frozen=True)
class Health:
    """What "back to normal" means: p95 within (1 + tolerance) of the baseline's (plus a
    small absolute floor for sub-millisecond baselines) and errors within `error_slack`."""

    p95_ms: float
    error_rate: float
    tolerance: float = 0.5
    floor_ms: float = 5.0
    error_slack: float = 0.01

    def ok(self, b: Bucket) -> bool:
        return (b[4] > 0 and b[2] <= max(self.p95_ms * (1 + self.tolerance),
                                         self.p95_ms + self.floor_ms)
                and b[3] <= self.error_rate + self.error_slack)


def window(series: Sequence[Bucket], t0: float, t1: float) -> list[Bucket]:
    """Buckets wholly or mostly inside [t0, t1)."""
    return [b for b in series if (b[0] + b[1]) / 2 >= t0 and (b[0] + b[1]) / 2 < t1]


def summarize(series: Sequence[Bucket]) -> tuple[float, float, int]:
    """(count-weighted mean p95, overall error rate, total count) of a window."""
    n = sum(b[4] for b in series)
    if n == 0:
        return 0.0, 0.0, 0
    p95 = sum(b[2] * b[4] for b in series) / n
    err = sum(b[3] * b[4] for b in series) / n
    return p95, err, n


def recovery_time(series: Sequence[Bucket], start_s: float, end_s: float, health: Health,
                  stable: int = 2) -> float | None:
    """Seconds from `start_s` until the first of `stable` consecutive healthy intervals
    (a silent interval in between breaks the run); None if no recovery before `end_s`."""
    run, first, prev_end = 0, 0.0, start_s
    for b in series:
        if b[1] <= start_s or b[0] >= end_s:
            continue
        if b[0] - prev_end > 1e-6:  # nothing completed in between: not healthy
            run = 0
        prev_end = b[1]
        if not health.ok(b):
            run = 0
            continue
        if run == 0:
            first = b[0]
        run += 1
        if run >= stable:
            return max(0.0, first - start_s)
    return None


@dataclass(frozen=True)
class Step:
    rate: float
    p95_ms: float
    error_rate: float
    achieved_rate: float
    count: int


def first_break(steps: Sequence[Step], *, p95_ms: float, error_rate: float,
                keep_up: float = 0.95) -> tuple[int | None, str]:
    """Index of the first step that breaks an SLO, and which one broke first (p95, errors,
    or the generator/target not keeping the offered rate)."""
    for i, s in enumerate(steps):
        if s.count == 0:
            return i, "no responses"
        if s.error_rate > error_rate:
            return i, f"error rate {s.error_rate:.2%} > {error_rate:.2%}"
        if s.p95_ms > p95_ms:
            return i, f"p95 {s.p95_ms:.1f} ms > {p95_ms:g} ms"
        if s.achieved_rate < keep_up * s.rate:
            return i, f"achieved {s.achieved_rate:.1f}/s < {keep_up:.0%} of {s.rate:g}/s offered"
    return None, ""


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U test p-value (normal approximation with tie correction):
    is `b` shifted against `a`? Enough for soak drift on dozens of intervals."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    allv = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(allv)
    ties = 0.0
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, allv, strict=True) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mu = n1 * n2 / 2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))) if n > 1 else 0.0
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def min_window(alpha: float = 0.01, limit: int = 10_000) -> int:
    """The fewest intervals per window (both windows alike) with which `mann_whitney_p` can
    reach p < alpha at all: the best case, two windows that do not overlap and have no ties.

    Below it no data, however drifted, is significant (at alpha 0.01: 5 per window give at
    best p = 0.012, 6 give 0.005), so a verdict built on the test must say it cannot tell.
    Derived from the test itself, not a table, so it follows any change to the test."""
    for n in range(2, limit):
        if mann_whitney_p(range(n), range(n, 2 * n)) < alpha:
            return n
    return limit


@dataclass(frozen=True)
class Drift:
    metric: str
    first: float
    last: float
    change: float  # relative change last/first - 1
    p_value: float
    drifted: bool
    #: False when the metric moved the bad way by more than the tolerance but not
    #: significantly: neither "drift" nor "no drift" can be said
    decided: bool = True


def drift(name: str, first: Sequence[float], last: Sequence[float], *, tolerance: float,
          alpha: float = 0.01, higher_is_worse: bool = True) -> Drift:
    """Did `name` get worse between the first and the last window? Worse by more than the
    tolerance AND significant (Mann-Whitney) - both, so noise or a tiny real shift do not
    fail a soak. Worse by more than the tolerance without significance is undecided (a
    5 -> 65 ms climb over windows too small or too noisy to prove it is not "no drift")."""
    f = sum(first) / len(first) if first else 0.0
    la = sum(last) / len(last) if last else 0.0
    change = (la / f - 1) if f else (0.0 if la == 0 else math.inf)
    worse = change > tolerance if higher_is_worse else change < -tolerance
    p = mann_whitney_p(first, last)
    drifted = bool(worse and p < alpha)
    return Drift(name, f, la, change, p, drifted, decided=drifted or not worse)
