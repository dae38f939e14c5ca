"""Setting up many sub-metric thresholds is linear: each `add_submetric` is a look-up, not a
scan of the sub-metrics already there (10,000 sub-metric thresholds took 39 s to set up)."""

from __future__ import annotations

import builtins
import time
from typing import Any

import pytest

from loadgen.metrics import ingest
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import SubMetric
from loadgen.metrics.registry import Registry


def test_add_submetric_sorts_a_constant_number_of_tag_sets_per_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted, not timed: a scan sorts every existing sub-metric's tags on every call."""
    calls = 0

    def counting_sorted(*a: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        return builtins.sorted(*a, **kw)

    monkeypatch.setattr(ingest, "sorted", counting_sorted, raising=False)
    store = Store(Registry())
    n = 2000
    for i in range(n):
        store.add_submetric("http_req_duration", f"name:n{i}", (("name", f"n{i}"),))
    again = store.add_submetric("http_req_duration", "name : n7", (("name", "n7"),))
    assert again.suffix == "name:n7"
    assert calls <= 3 * (n + 1), calls


def test_submetrics_appended_elsewhere_are_still_found() -> None:
    """The index catches up with sub-metrics added to the metric without the store."""
    reg = Registry()
    store = Store(reg)
    store.add_submetric("http_req_duration", "a:1", (("a", "1"),))
    m = reg["http_req_duration"]
    outside = SubMetric(m, "b:2", (("b", "2"),))
    m.submetrics.append(outside)
    assert store.add_submetric(m, "b:2", (("b", "2"),)) is outside
    assert len(m.submetrics) == 2


def test_ten_thousand_submetrics_set_up_in_well_under_three_seconds() -> None:
    store = Store(Registry())
    t0 = time.perf_counter()
    for i in range(10_000):
        store.add_submetric("http_req_duration", f"name:n{i}", (("name", f"n{i}"),))
    assert time.perf_counter() - t0 < 3.0
