"""TrendSink: k6 percentiles from a bounded HDR histogram, exact for small runs."""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from loadgen.metrics import histogram
from loadgen.metrics.histogram import TrendSink, hdr_bounds, hdr_indices
from loadgen.metrics.model import MetricType
from loadgen.metrics.sinks import ExactTrendSink, new_sink

PS = [0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]
BOUND = 2.0**-11  # documented: half an HDR bucket, relative

Gen = Callable[[np.random.Generator, int], np.ndarray]


def _outliers(r: np.random.Generator, n: int) -> np.ndarray:
    v = r.lognormal(3, 0.5, n)
    v[r.integers(0, n, max(1, n // 500))] *= 1000
    return v


DISTRIBUTIONS: dict[str, Gen] = {
    "uniform": lambda r, n: r.uniform(1, 1000, n),
    "lognormal": lambda r, n: r.lognormal(0, 1.5, n),
    "bimodal": lambda r, n: np.concatenate(
        [r.normal(2, 0.3, n // 2).clip(0.01), r.normal(300, 40, n - n // 2)]),
    "outliers": _outliers,
    "loopback_ms": lambda r, n: r.uniform(0.05, 2.0, n),  # tiny loopback latencies
    "loopback_100us": lambda r, n: r.normal(0.1, 0.005, n).clip(0.05),
    "seconds_ms": lambda r, n: r.uniform(1000, 60_000, n),
    "exponential": lambda r, n: r.exponential(20, n),
}


def _rel_err(got: list[float], values: np.ndarray) -> float:
    exp = np.percentile(values, PS, method="linear")
    return float(np.max(np.abs(np.array(got) - exp) / np.abs(exp)))


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize(("n", "exact_limit"), [(10, 0), (1000, 0), (30_000, 10_000),
                                                  (300_000, 10_000)])
def test_percentiles_match_numpy_linear(name: str, n: int, exact_limit: int) -> None:
    values = DISTRIBUTIONS[name](np.random.default_rng(n), n)
    sink = TrendSink(exact_limit=exact_limit)
    for chunk in np.array_split(values, 7):
        sink.add_many(chunk)
    assert not sink.exact
    err = _rel_err(sink.percentiles(PS), values)
    assert err <= BOUND * 1.0001, f"{name} n={n}: {err:.2e}"
    assert sink.percentile(0) == values.min()
    assert sink.percentile(100) == values.max()


def test_exact_extrema_count_and_sum() -> None:
    values = np.random.default_rng(3).lognormal(1, 2, 123_457)
    sink = TrendSink()
    for chunk in np.array_split(values, 13):
        sink.add_many(chunk)
    assert sink.count == len(values)
    assert sink.min == values.min()
    assert sink.max == values.max()
    assert sink.sum == pytest.approx(math.fsum(values), rel=1e-12)
    assert sink.aggregate("count", 1) == len(values)
    assert sink.aggregate("avg", 1) == pytest.approx(values.mean(), rel=1e-12)


def test_k6_example_values_exact() -> None:
    sink = TrendSink()
    for v in range(1, 11):
        sink.add(float(v))
    assert sink.aggregate("med", 1) == 5.5
    assert sink.aggregate("p(90)", 1) == 9.1
    assert sink.aggregate("p(95)", 1) == 9.549999999999999
    assert sink.aggregate("p(99)", 1) == 9.91


@pytest.mark.parametrize("seed", range(5))
def test_small_runs_identical_to_exact_sink(seed: int) -> None:
    r = np.random.default_rng(seed)
    values = np.concatenate([r.normal(0, 50, 4000), r.integers(-5, 5, 3000).astype(float),
                             r.lognormal(0, 3, 2997), [0.0, -0.0, 1e-300]])
    r.shuffle(values)
    mine, ref = TrendSink(), ExactTrendSink()
    start = 0
    while start < len(values):
        step = int(r.integers(1, 900))
        for s in (mine, ref):
            s.add_many(values[start : start + step])
        start += step
    assert mine.exact and mine.count == 10_000
    stats = ["avg", "min", "med", "max", "count", "p(0)", "p(0.5)", "p(90)", "p(95)",
             "p(99)", "p(99.9)", "p(100)"]
    for stat in stats:
        assert mine.aggregate(stat, 2.0) == ref.aggregate(stat, 2.0), stat
    assert mine.summary_values(stats, 2.0) == ref.summary_values(stats, 2.0)


@pytest.mark.parametrize("values", [[], [7.5], [-3.0], [0.0], [2.0, -2.0], [1e-12, 1e12]])
def test_tiny_inputs_match_exact(values: list[float]) -> None:
    for limit in (10_000, 0):
        mine, ref = TrendSink(exact_limit=limit), ExactTrendSink()
        for v in values:
            mine.add(v)
            ref.add(v)
        for stat in ["avg", "min", "max", "med", "count", "p(95)"]:
            assert mine.aggregate(stat, 1) == pytest.approx(ref.aggregate(stat, 1), rel=BOUND)


def test_signed_fractional_huge_custom_values() -> None:
    """Custom trends take any float; errors stay within the documented absolute bound."""
    r = np.random.default_rng(11)
    values = np.concatenate([
        r.normal(0, 1000, 20_000), np.zeros(3000), r.uniform(-1e-3, 1e-3, 2000),
        r.lognormal(20, 3, 2000), -r.lognormal(10, 2, 2000), [1e15, -1e15, 0.25, -0.125]])
    r.shuffle(values)
    sink = TrendSink()
    for chunk in np.array_split(values, 9):
        sink.add_many(chunk)
    assert sink.count == len(values) and not sink.exact
    assert sink.min == -1e15 and sink.max == values.max()
    assert sink.unit_exp is not None
    unit = 2.0**sink.unit_exp
    v = np.sort(values)
    for p, got in zip(PS, sink.percentiles(PS), strict=True):
        i = p / 100 * (len(v) - 1)
        scale = max(abs(v[math.floor(i)]), abs(v[math.ceil(i)]))
        exp = float(np.percentile(values, p, method="linear"))
        assert abs(got - exp) <= BOUND * scale + unit, (p, got, exp)


def test_negative_only_and_infinities() -> None:
    sink = TrendSink(exact_limit=0)
    values = -np.random.default_rng(2).lognormal(0, 1, 5000)
    sink.add_many(values)
    assert _rel_err(sink.percentiles(PS), values) <= BOUND
    sink.add_many(np.array([np.inf, -np.inf]))
    # +inf is unserved work (kept apart, ranked above everything), -inf an ordinary value
    assert sink.aggregate("max", 0) == np.inf and sink.min == -np.inf
    assert (sink.count, sink.unserved) == (5001, 1)


def test_switch_from_exact_to_hdr_at_the_limit() -> None:
    values = np.random.default_rng(5).uniform(0.1, 1.0, 101)
    sink = TrendSink(exact_limit=100)
    sink.add_many(values[:100])
    assert sink.exact
    sink.add(float(values[100]))
    assert not sink.exact
    assert _rel_err(sink.percentiles(PS), values) <= BOUND


def test_hdr_layout_is_hdrh_layout() -> None:
    """Our numpy index/bounds maths is exactly hdrh's (lowest 1, 3 significant figures)."""
    h = histogram.HdrHistogram(1, 2**62, 3)
    r = np.random.default_rng(0)
    ints = np.unique(np.concatenate([
        np.arange(0, 5000), r.integers(0, 2**62, 3000),
        2 ** np.arange(11, 62), 2 ** np.arange(11, 62) - 1]))
    idx = hdr_indices(ints.astype(np.float64))
    low, width = hdr_bounds(idx)
    for v, i, lo, w in zip(ints.tolist()[::7], idx[::7], low[::7], width[::7], strict=True):
        if v >= 2**53:  # float64 can't hold these integers exactly; ours index the float
            continue
        assert h._counts_index_for(v) == i
        assert h.get_lowest_equivalent_value(v) == lo
        assert h._hdr_size_of_equiv_value_range(v) == w


def test_histogram_is_a_valid_hdrh_histogram() -> None:
    values = np.random.default_rng(1).uniform(1, 2, 50_000)
    sink = TrendSink(exact_limit=0)
    sink.add_many(values)
    encoded = sink.encode()
    assert encoded is not None
    decoded = histogram.HdrHistogram.decode(encoded)
    assert decoded.get_total_count() == 50_000
    assert sink.unit_exp is not None
    med = decoded.get_value_at_percentile(50) * 2.0**sink.unit_exp
    assert med == pytest.approx(np.median(values), rel=2e-3)


def test_memory_is_flat_over_five_million_values() -> None:
    """After the first batch nothing grows with the number of samples.

    The counts array grows only when values reach new binary magnitudes (at most 54
    octaves of 8 KiB), so the first batch here holds the distribution's extremes. A query
    builds a transient cache (<= 16 bytes per non-empty bucket), dropped by the next add.
    """
    r = np.random.default_rng(9)

    def batch() -> np.ndarray:
        v = r.lognormal(0, 1, 50_000).clip(0.01, 100)
        v[:2] = 0.01, 100
        return v

    sink = TrendSink()
    tracemalloc.start()
    try:
        sink.add_many(batch())
        sink.percentiles([50, 99])
        sink.add_many(batch())
        gc.collect()
        before, nbytes_before = tracemalloc.get_traced_memory()[0], sink.nbytes
        for i in range(98):
            sink.add_many(batch())
            if i % 10 == 0:
                sink.percentiles([50, 99])  # thresholds query while the run goes on
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert sink.count == 5_000_000
    assert sink.nbytes == nbytes_before < 300_000
    assert after - before < 16_384, (before, after)


def test_memory_bound_for_any_magnitudes() -> None:
    sink = TrendSink(exact_limit=0)
    r = np.random.default_rng(1)
    for _ in range(20):
        sink.add_many(r.choice([-1.0, 1.0], 10_000) * 10.0 ** r.uniform(-12, 18, 10_000))
    sink.percentiles([50])
    # two histograms (signs) of at most 56,320 uint64 counts each, plus the query cache
    assert sink.nbytes <= 2 * 56_320 * 8 * 2


def test_merge_and_copy() -> None:
    r = np.random.default_rng(4)
    # same extreme exponents -> same unit: merging adds counts, bucket for bucket
    a_vals = np.concatenate([[1.0, 999.0], r.lognormal(3, 1, 40_000).clip(1, 999)])
    b_vals = np.concatenate([[1.5, 900.0], r.uniform(1, 999, 30_000)])
    a, b, both = TrendSink(exact_limit=0), TrendSink(exact_limit=0), TrendSink(exact_limit=0)
    a.add_many(a_vals)
    b.add_many(b_vals)
    assert a.unit_exp == b.unit_exp
    both_vals = np.concatenate([a_vals, b_vals])
    both.add_many(both_vals)
    c = a.copy()
    c.merge(b)
    assert c.count == 70_004 and c.min == both_vals.min() and c.max == both_vals.max()
    assert c.unit_exp == both.unit_exp
    assert c.percentiles(PS) == both.percentiles(PS)
    assert a.count == 40_002  # copy is independent
    # exact + exact stays exact; different scales re-bin within one more half bucket
    e1, e2 = TrendSink(), TrendSink()
    e1.add_many(a_vals[:100])
    e2.add_many(b_vals[:100])
    e1.merge(e2)
    assert e1.exact and e1.count == 200
    d = TrendSink(exact_limit=0)
    d.add_many(b_vals * 1e-3)
    d.merge(a)
    mixed = np.concatenate([b_vals * 1e-3, a_vals])
    assert _rel_err(d.percentiles(PS), mixed) <= 2 * BOUND


def test_new_sink_gives_bounded_trend_sink() -> None:
    sink = new_sink(MetricType.TREND)
    assert isinstance(sink, TrendSink)
    assert sink.empty and sink.aggregate("p(95)", 1) == 0.0 and sink.aggregate("avg", 1) == 0.0
    assert sink.summary_values(["count", "min"], 1) == {"count": 0, "min": 0.0}


def test_unserved_values_rank_above_every_served_one():
    """+inf marks work never served (open model): percentiles that fall among them are +inf,
    count/sum/min stay those of the served values, exact and HDR phases alike."""
    for limit in (10_000, 10):
        s = TrendSink(exact_limit=limit)
        s.add_many(np.arange(1, 101, dtype=np.float64))
        s.add_many(np.full(10, math.inf))
        assert (s.count, s.unserved, s.sum, s.min) == (100, 10, 5050.0, 1.0)
        p50, p90, p95 = s.percentiles([50, 90, 95])
        assert p50 == pytest.approx(55.5, rel=1e-3) and p90 == pytest.approx(99.1, rel=1e-3)
        assert p95 == math.inf
        assert s.aggregate("max", 0) == math.inf
        merged = TrendSink()
        merged.merge(s)
        assert merged.unserved == 10
    only = TrendSink()
    only.add(math.inf)
    assert not only.empty and only.percentile(1) == math.inf
    assert only.aggregate("avg", 0) == math.inf
