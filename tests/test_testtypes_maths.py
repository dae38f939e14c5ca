"""Verdict maths on synthetic per-interval series (no sockets, no clocks)."""

from __future__ import annotations

import random

import pytest

from loadgen.testtypes.maths import (
    Health,
    Step,
    drift,
    first_break,
    mann_whitney_p,
    recovery_time,
    summarize,
    window,
)


def series(p95s: list[float | None], err: float = 0.0, n: int = 100):
    """One bucket per second; None = nothing completed in that second (absent)."""
    return [(float(i), float(i + 1), p, err, n) for i, p in enumerate(p95s) if p is not None]


def test_recovery_time_counts_from_the_spike_end_to_the_first_stable_healthy_interval():
    s = series([10] * 5 + [400] * 3 + [12] * 5)
    h = Health(10, 0.0, tolerance=0.5)
    assert recovery_time(s, 5.0, 13.0, h) == 3.0
    # silent seconds (a stall) are not healthy
    s = series([10] * 5 + [None] * 3 + [900] + [10] * 4)
    assert recovery_time(s, 5.0, 13.0, h) == 4.0
    # never back
    assert recovery_time(series([10] * 5 + [400] * 8), 5.0, 13.0, h) is None
    # one healthy blip between bad seconds is not a recovery (needs 2 in a row)
    assert recovery_time(series([10] * 5 + [400, 10, 400, 10, 11, 10]), 5.0, 11.0, h) == 3.0


def test_health_uses_tolerance_floor_and_errors():
    h = Health(1.0, 0.0, tolerance=0.5, floor_ms=5.0)
    assert h.ok((0, 1, 5.9, 0.0, 10))  # within the absolute floor for tiny baselines
    assert not h.ok((0, 1, 6.1, 0.0, 10))
    assert not h.ok((0, 1, 1.0, 0.05, 10))  # errors above the baseline's + 1%
    assert not h.ok((0, 1, 1.0, 0.0, 0))  # nothing completed


def test_window_and_summarize_weight_by_count():
    s = [(0.0, 1.0, 10.0, 0.0, 100), (1.0, 2.0, 30.0, 0.5, 300), (2.0, 3.0, 99.0, 0.0, 5)]
    assert window(s, 0, 2) == s[:2]
    p95, err, n = summarize(window(s, 0, 2))
    assert (p95, err, n) == (25.0, 0.375, 400)
    assert summarize([]) == (0.0, 0.0, 0)


def test_first_break_names_the_slo_that_broke_first():
    steps = [Step(100, 20, 0, 100, 200), Step(200, 40, 0, 199, 400),
             Step(300, 900, 0.0, 250, 500), Step(400, 2000, 0.5, 100, 200)]
    i, why = first_break(steps, p95_ms=100, error_rate=0.01)
    assert i == 2 and why.startswith("p95 900.0 ms > 100 ms")
    i, why = first_break(steps[:2] + [Step(300, 20, 0.05, 300, 600)], p95_ms=100,
                         error_rate=0.01)
    assert i == 2 and why.startswith("error rate 5.00%")
    i, why = first_break([Step(100, 20, 0, 80, 100)], p95_ms=100, error_rate=0.01)
    assert i == 0 and "achieved 80.0/s" in why
    assert first_break(steps[:2], p95_ms=100, error_rate=0.01) == (None, "")


def test_mann_whitney_matches_known_values():
    # identical samples: no evidence of a shift
    assert mann_whitney_p([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(1.0, abs=0.2)
    # fully separated samples of 10: p ~ 0.00018 (normal approximation)
    p = mann_whitney_p(list(range(10)), list(range(100, 110)))
    assert p < 0.001
    rnd = random.Random(7)
    a = [rnd.gauss(10, 1) for _ in range(40)]
    b = [rnd.gauss(10, 1) for _ in range(40)]
    assert mann_whitney_p(a, b) > 0.05


def test_drift_needs_both_tolerance_and_significance():
    rnd = random.Random(3)
    flat = [rnd.gauss(50, 2) for _ in range(30)]
    up = [rnd.gauss(80, 2) for _ in range(30)]
    assert drift("p95", flat, up, tolerance=0.2).drifted
    assert not drift("p95", flat, [v * 1.05 for v in flat], tolerance=0.2).drifted
    # throughput falling is the bad direction
    assert drift("tput", up, flat, tolerance=0.2, higher_is_worse=False).drifted
    assert not drift("tput", flat, up, tolerance=0.2, higher_is_worse=False).drifted


def _view_with(counts: dict[str, list[float]]):
    from loadgen.metrics.ingest import Store
    from loadgen.metrics.model import SAMPLE, tagset
    from loadgen.metrics.registry import Registry
    from loadgen.metrics.timeseries import TimeSeries
    from loadgen.testtypes.view import RunView

    reg = Registry()
    store = Store(reg)
    store.ingest([(SAMPLE, i, reg[name], v, tagset())
                  for name, values in counts.items() for i, v in enumerate(values)])
    return RunView(TimeSeries(), "s", 0.0, 10.0, store, True, 10.0)


def test_mixed_verdict_reads_the_delivery_counters():
    from loadgen import Mixed

    good = Mixed.verdict(_view_with({"messages_sent": [100], "messages_delivered": [100],
                                     "delivery_latency": [5.0, 12.0, 30.0]}))
    assert good.ok is True and good.headline.startswith("100/100 delivered, 0 lost")
    lossy = Mixed.verdict(_view_with({"messages_sent": [100], "messages_delivered": [99],
                                      "messages_lost": [1], "delivery_latency": [5.0]}))
    assert lossy.ok is False and "1 lost" in lossy.headline
    dropped = Mixed.verdict(_view_with({"messages_sent": [10], "messages_delivered": [10],
                                        "delivery_latency": [5.0],
                                        "ws_unexpected_disconnects": [1]}))
    assert dropped.ok is False
    slow = Mixed.verdict(_view_with({"messages_sent": [1], "messages_delivered": [1],
                                     "delivery_latency": [900.0]}))
    assert slow.ok is False
    assert Mixed.verdict(_view_with({})).ok is None


def test_large_payload_verdict_reads_the_integrity_counters():
    from loadgen import LargePayload

    assert LargePayload.verdict(_view_with({"payload_checks": [50]})).ok is True
    bad = LargePayload.verdict(_view_with({"payload_checks": [50], "payload_corruptions": [2]}))
    assert bad.ok is False and bad.headline == "50 payloads checked, 2 corrupted, 0 lost"
    assert LargePayload.verdict(_view_with({})).ok is None
