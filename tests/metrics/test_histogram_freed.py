"""A trend sink's HDR histograms are freed as soon as the sink is dropped, without waiting for
Python's cyclic collector: runs that cut an interval every second (--archive, --report, fleet
workers) and merges that decode thousands of them drop a dense counts array (~100-250 KB)
per trend per second, and the full collections that free cycles come rarely."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from loadgen.metrics.histogram import TrendSink


def test_dropped_hdr_histograms_are_freed_without_a_collection() -> None:
    grown = TrendSink(exact_limit=0, unit_exp=-30)
    grown.add_many(np.geomspace(0.01, 10_000, 5000))  # past the first size: _grow ran
    decoded = TrendSink.from_parts(grown.to_parts(), unit_exp=-30)
    assert decoded.percentile(50) == grown.percentile(50)  # still encodes and decodes
    refs = [weakref.ref(s._pos.h) for s in (grown, decoded)]  # type: ignore[union-attr]
    gc.disable()
    try:
        del grown, decoded
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
