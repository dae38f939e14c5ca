"""Records read one sample at a time, by metric name: for what inspects a few records
(`loadgen.testing`, tests), not for ingest, which expands whole batches column-wise.

Every kind of record expands here into the samples a store makes of it, in the same order
(`Store.points`), so a reader never needs to know the record layouts of model.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from loadgen.metrics.model import HTTP, ITER, ITER_METRICS, TagSet
from loadgen.metrics.registry import HTTP_TIMING_METRICS

#: (metric name, t_ns, value, tags): one sample
NamedSample = tuple[str, int, float, TagSet]


def named_samples(records: Iterable[tuple[object, ...]]) -> Iterator[NamedSample]:
    """Every sample of these records, in record order."""
    r: Any
    for r in records:
        kind, t = r[0], r[1]
        if kind == HTTP:
            tags = r[2]
            yield "http_reqs", t, 1.0, tags
            for name, v in zip(HTTP_TIMING_METRICS, r[3:10], strict=True):
                yield name, t, float(v), tags
            if r[10] is not None:
                yield "http_req_failed", t, float(r[10]), tags
        elif kind == ITER:
            tags = r[2]
            for name, v in zip(ITER_METRICS, (r[3], 1.0, r[4], r[5]), strict=True):
                yield name, t, float(v), tags
        else:  # SAMPLE: (kind, t, metric, value, tags)
            yield r[2].name, t, float(r[3]), r[4]


def values_of(records: Iterable[tuple[object, ...]], name: str) -> list[tuple[int, float, TagSet]]:
    """(t_ns, value, tags) of every sample of metric `name`, in record order."""
    return [(t, v, tags) for n, t, v, tags in named_samples(records) if n == name]
