"""The metric model shared by every part of loadgen: types, value kinds, tag sets, records.

This module is the contract between the hot path (VUs append records), the ingest loop
(records -> sinks), thresholds and the summary writers. It holds no aggregation maths.

Records are plain tuples appended to a list on the hot path (no await, no histogram work);
the ingest loop expands them into samples every ~50 ms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    RATE = "rate"
    TREND = "trend"


class Contains(StrEnum):
    DEFAULT = "default"
    TIME = "time"  # values in milliseconds (float), humanised as durations
    DATA = "data"  # bytes, humanised as kB/MB


NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{1,128}$")

# A tag set is a tuple of (key, value) pairs sorted by key: hashable, cheap to intern, and
# ordered the way NDJSON wants it. Build them with `tagset()`.
TagSet = tuple[tuple[str, str], ...]

_INTERN: dict[TagSet, TagSet] = {}


def tagset(tags: dict[str, str] | None = None, **more: str) -> TagSet:
    """Return the interned, sorted tag tuple for these tags (values become strings)."""
    merged: dict[str, str] = {}
    if tags:
        merged.update(tags)
    if more:
        merged.update(more)
    key = tuple(sorted((str(k), str(v)) for k, v in merged.items()))
    got = _INTERN.get(key)
    if got is None:
        if len(_INTERN) > 200_000:  # cardinality guard: never let interning grow unbounded
            _INTERN.clear()
        _INTERN[key] = key
        _untrack(key)
        got = key
    return got


def _untrack(tags: TagSet) -> None:
    """Take a new tag set out of the collector's sight. Strings in tuples can form no cycle,
    so CPython itself untracks such tuples, but only when a collection of their generation
    walks them (twice: the pairs, then the outer tuple), and a run's tag sets, made at its
    start, wait for that in the middle generation. Until then every record holding one stays
    tracked too, and each young pass walks the batch waiting for ingest. Done once per
    distinct tag set (the interning above), with CPython's own public call; only for exact
    strings (a str subclass's instance may carry a __dict__, hence a cycle)."""
    untrack = _GC_UNTRACK[0] if _GC_UNTRACK else _load_untrack()
    if untrack is not None and all(type(k) is str and type(v) is str for k, v in tags):
        for pair in tags:
            untrack(pair)
        untrack(tags)


_GC_UNTRACK: list[Any] = []


def _load_untrack() -> Any:
    """CPython's PyObject_GC_UnTrack through ctypes (None elsewhere: nothing to do there)."""
    fn: Any = None
    try:
        import ctypes
        import sys

        if sys.implementation.name == "cpython":
            fn = ctypes.pythonapi.PyObject_GC_UnTrack
            fn.argtypes, fn.restype = [ctypes.py_object], None
    except (ImportError, AttributeError):
        fn = None
    _GC_UNTRACK.append(fn)
    return fn


def merge_tags(base: TagSet, *layers: Mapping[str, Any] | None) -> TagSet:
    """`base` with each layer laid over it in order (later layers win), values as strings,
    interned. The one place tags given by a scenario (`tags=`) meet a VU's sample tags; the
    hot paths cache its result per distinct input, so it only runs on a cache miss."""
    if not any(layers):
        return base
    d = dict(base)
    for layer in layers:
        if layer:
            for k, v in layer.items():
                d[str(k)] = str(v)
    return tagset(d)


@dataclass(eq=False)
class Metric:
    """A named metric. Identity matters: records point at Metric objects, not names."""

    name: str
    type: MetricType
    contains: Contains = Contains.DEFAULT
    # Sub-metric selectors asked for (by thresholds, or automatically) - filled by the registry.
    submetrics: list[SubMetric] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.type.value})"


@dataclass(eq=False)
class SubMetric:
    """`parent{k:v,...}`: receives every sample of the parent whose tags include all of `tags`."""

    parent: Metric
    suffix: str  # the selector text between the braces, outer whitespace trimmed
    tags: tuple[tuple[str, str], ...]
    internal: bool = False  # loadgen's own per-scenario views: not listed as k6 sub-metrics

    @property
    def name(self) -> str:
        return f"{self.parent.name}{{{self.suffix}}}"

    def matches(self, tags: TagSet) -> bool:
        have = dict(tags)
        return all(have.get(k) == v for k, v in self.tags)


# ---- records (hot path) ---------------------------------------------------------------
# Every record is a tuple whose first item is its kind.
#   (SAMPLE, t_ns, metric, value, tags)                          one sample of one metric
#   (HTTP, t_ns, tags, duration, blocked, connecting, tls, sending, waiting, receiving,
#    failed)                                                      one HTTP request; all timings
#                                                                 in ms; failed is 1/0, or None
#                                                                 when no response callback
#   (ITER, t_ns, tags, duration, bytes_sent, bytes_received)     one completed iteration: the
#                                                                 samples of ITER_METRICS, in
#                                                                 that order, at t_ns with tags
#                                                                 (iterations' value is 1; the
#                                                                 bytes are those since the
#                                                                 VU's last emission)
# t_ns is the clock's perf_counter_ns-based time of the sample (request end for HTTP).
# ITER holds no Metric (only numbers and the interned tag set), so the collector untracks it
# while it waits for ingest, and ingest expands it column-wise, as it does HTTP.
SAMPLE = 0
HTTP = 1
ITER = 2
ITER_METRICS = ("iteration_duration", "iterations", "data_sent", "data_received")
