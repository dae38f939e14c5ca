"""A batch of hot-path records taken apart: by kind, by sameness of a field, into columns.

This is ingest's only work per record (everything after it is per batch and per tag set),
so it has two implementations that give the same results:

- C (`_batch.c`, built by `pip install` where a compiler and Python's headers exist): one
  loop over the tuples for each job.
- Python: map, list.count, a zip transpose and one numpy fromiter per column (fromiter
  was the fastest pure way measured: np.array and array.array were 15-20% slower).

`benchmarks/bench_instructions.py` counts what the choice is worth per HTTP iteration (its
HTTP, check and iteration records). The C one is used when it was built;
LOADGEN_NO_EXTENSIONS=1 (read at import) forces the Python one, and `make test` runs the
metric and k6 conformance tests a second time that way. `IMPLEMENTATION` says which is in
use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from loadgen import extensions
from loadgen.metrics.model import HTTP, ITER, SAMPLE

Records = Sequence[tuple[object, ...]]
#: (kind, its records in batch order, their positions in the batch: None when all of it)
KindPart = tuple[int, Records, np.ndarray | None]

_GET = [itemgetter(i) for i in range(11)]
_KIND = _GET[0]
_DTYPES = {"d": np.float64, "q": np.int64, "o": np.int64}


# ---- the Python implementation -----------------------------------------------------------
def python_split_kinds(records: Records) -> list[KindPart]:
    """A batch by record kind: HTTP, then ITER, then SAMPLE (the kinds present).

    list.count answers the one-kind batch as cheaply as a sum of the kinds did. A mixed
    batch takes one stable sort of its kinds and one C call gathering the records in that
    order: each kind is then a slice in record order, its positions a slice of the sort."""
    kinds = list(map(_KIND, records))
    n = len(kinds)
    if n == 0:
        return []
    n_http = kinds.count(HTTP)
    if n_http == n:
        return [(HTTP, records, None)]
    n_iter = kinds.count(ITER)
    n_sample = n - n_http - n_iter
    if n_iter == n or n_sample == n:
        return [(ITER if n_iter else SAMPLE, records, None)]
    order = np.argsort(np.frombuffer(bytes(kinds), np.uint8), kind="stable")
    ordered: tuple[tuple[object, ...], ...] = itemgetter(*order.tolist())(records)  # n > 1
    a, b = n_sample, n_sample + n_http
    parts: list[KindPart] = [(HTTP, ordered[a:b], order[a:b]), (ITER, ordered[b:], order[b:]),
                             (SAMPLE, ordered[:a], order[:a])]
    return [p for p in parts if len(p[1])]


def python_all_same(recs: Records, i: int) -> bool:
    """Whether field i (a metric or a tag set) is the same in every record: the common batch
    of one metric or one tag set. Three probes first, so a mixed batch rarely pays for more;
    then list.count, which checks identity before equality and makes no object per record
    (an id() array costs an int object per record, ~4x as much). Equal tag sets that are
    not the same object count as the same here: ingest keys tag sets by value anyway."""
    first = recs[0][i]
    if recs[-1][i] is not first or recs[len(recs) >> 1][i] is not first:
        return False
    return list(map(_GET[i], recs)).count(first) == len(recs)


def python_columns(recs: Records, spec: str) -> list[np.ndarray]:
    """The columns `spec` asks for, one character per leading field: 'd' float64 (None as
    NaN), 'q' int64, 'o' the object's id() as int64, '.' none. All the records of one kind
    share one layout. Three columns or more: one zip transpose for all of them (~3% fewer
    instructions per request than a map per column); fewer: a map over each field. The zip
    holds an iterator per record while it runs, which would set off a young collection per
    batch under the default GC threshold; the engine raises it while load runs (heap.py)."""
    n = len(recs)
    wanted = [(i, c) for i, c in enumerate(spec) if c != "."]
    fields: Any
    if len(wanted) >= 3 and n:
        fields = list(zip(*recs, strict=True))
    else:
        fields = {i: map(_GET[i], recs) for i, _ in wanted}
    try:
        return [np.fromiter(fields[i] if c != "o" else map(id, fields[i]), _DTYPES[c], n)
                for i, c in wanted]
    except IndexError:  # as the C one says it
        raise ValueError(f"a record has fewer fields than {spec!r} reads") from None


# ---- the C implementation (the same results) ----------------------------------------------
class _C:
    """The C module's three loops behind the Python functions' signatures."""

    def __init__(self, mod: Any) -> None:
        self._split, self._fill = mod.split, mod.fill
        self.all_same: Callable[[Records, int], bool] = mod.same

    def split_kinds(self, records: Records) -> list[KindPart]:
        n = len(records)
        if n == 0:
            return []
        http, iters, samples, kinds = self._split(records)
        parts = ((HTTP, http), (ITER, iters), (SAMPLE, samples))
        for kind, part in parts:
            if len(part) == n:
                return [(kind, records, None)]
        k = np.frombuffer(kinds, np.uint8)
        return [(kind, part, np.flatnonzero(k == kind)) for kind, part in parts if part]

    def columns(self, recs: Records, spec: str) -> list[np.ndarray]:
        n = len(recs)
        buf = np.frombuffer(self._fill(recs, spec), np.float64)
        out = []
        for c, kind in enumerate([k for k in spec if k != "."]):
            col = buf[c * n:(c + 1) * n]
            out.append(col if kind == "d" else col.view(np.int64))
        return out


_built = extensions.load("loadgen.metrics._batch")
_c = None if _built is None else _C(_built)
#: "c" or "python": which implementation the three functions below are
IMPLEMENTATION = "python" if _c is None else "c"
split_kinds: Callable[[Records], list[KindPart]] = (
    python_split_kinds if _c is None else _c.split_kinds)
all_same: Callable[[Records, int], bool] = python_all_same if _c is None else _c.all_same
columns: Callable[[Records, str], list[np.ndarray]] = (
    python_columns if _c is None else _c.columns)
