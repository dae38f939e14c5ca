"""loadgen.metrics.batch: the C and the Python way of taking a record batch apart agree on
every result and every refusal, LOADGEN_NO_EXTENSIONS forces the Python way, and the C way
is really built where a compiler is."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loadgen.metrics import batch
from loadgen.metrics.model import HTTP, ITER, SAMPLE, tagset

try:
    from loadgen.metrics import _batch  # type: ignore[attr-defined]
except ImportError:
    _batch = None

C = None if _batch is None else batch._C(_batch)
needs_c = pytest.mark.skipif(C is None, reason="the C extension is not built here")

TAGS_A = tagset(status="200", url="http://127.0.0.1/a")
TAGS_B = tagset(status="404", url="http://127.0.0.1/b")


class M:
    """A stand-in metric object (ingest compares metrics by identity)."""


CHECKS, OTHER = M(), M()


def http(t: int, tags: object = TAGS_A, failed: object = 0) -> tuple[object, ...]:
    return (HTTP, t, tags, 1.5 + t, 0.0, 0.0, 0.0, 0.25, 1.0 + t / 7, 0.25, failed)


def it(t: int, tags: object = TAGS_A) -> tuple[object, ...]:
    return (ITER, t, tags, 2.0 + t, 120 + t, 240)


def sample(t: int, metric: object = CHECKS, value: object = 1.0,
           tags: object = TAGS_A) -> tuple[object, ...]:
    return (SAMPLE, t, metric, value, tags)


MIXED = [http(1), sample(2), it(3), http(4, TAGS_B, None), sample(5, OTHER, 0.0), it(6),
         sample(7), http(8, failed=1)]


def parts_of(split: Callable[[Any], list[batch.KindPart]], recs: Any) -> list[Any]:
    return [(kind, list(part), None if where is None else where.tolist())
            for kind, part, where in split(recs)]


@needs_c
@pytest.mark.parametrize("recs", [
    [], [http(1)], [http(i) for i in range(50)], [it(i) for i in range(3)],
    [sample(i) for i in range(4)], MIXED, tuple(MIXED), [sample(1), it(2)],
    [it(1), http(2), it(3)],
], ids=["empty", "one", "http", "iter", "sample", "mixed", "tuple", "sample+iter",
        "iter+http"])
def test_split_kinds_agrees(recs: Any) -> None:
    assert C is not None
    got, want = parts_of(C.split_kinds, recs), parts_of(batch.python_split_kinds, recs)
    assert got == want
    if want and len(want) == 1:  # one kind: the batch itself, no copy, no positions
        assert C.split_kinds(recs)[0][1] is recs


@needs_c
def test_split_kinds_positions_keep_record_order() -> None:
    assert C is not None
    got = {kind: where for kind, _, where in C.split_kinds(MIXED)}
    assert got[HTTP].tolist() == [0, 3, 7]
    assert got[ITER].tolist() == [2, 5]
    assert got[SAMPLE].tolist() == [1, 4, 6]


@needs_c
@pytest.mark.parametrize(("field", "recs", "want"), [
    (2, [http(i) for i in range(10)], True),
    (2, [http(i) for i in range(10)] + [http(11, TAGS_B)], False),
    (2, [http(0, TAGS_B)] + [http(i) for i in range(10)], False),
    # equal but not the same object: the same, as list.count says
    (2, [http(0, tagset(status="200", url="http://127.0.0.1/a")), http(1)], True),
    (2, [sample(i, CHECKS) for i in range(5)], True),
    (2, [sample(1, CHECKS), sample(2, OTHER)], False),
    (4, [sample(1, CHECKS, tags=TAGS_A), sample(2, OTHER, tags=TAGS_A)], True),
])
def test_all_same_agrees(field: int, recs: list[tuple[object, ...]], want: bool) -> None:
    assert C is not None
    assert C.all_same(recs, field) is want
    assert batch.python_all_same(recs, field) is want


def _eq(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(
        np.all((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b))


@needs_c
@pytest.mark.parametrize(("spec", "recs"), [
    (".q." + "d" * 8, [http(i) for i in range(20)]),
    (".q." + "d" * 8, [http(1, failed=None), http(2, failed=1), http(3, failed=True)]),
    (".q.ddd", [it(i) for i in range(7)]),
    (".q.d", [sample(1, value=1.0), sample(2, value=0), sample(3, value=False),
              sample(4, value=np.float64(2.5)), sample(5, value=-math.inf)]),
    ("..o", [sample(1, CHECKS), sample(2, OTHER), sample(3, CHECKS)]),
    ("..o", [http(1), http(2, TAGS_B)]),
    (".q", [http(-(2**62)), http(2**62)]),
    (".q." + "d" * 8, []),
    ("..", [http(1)]),
])
def test_columns_agree(spec: str, recs: list[tuple[object, ...]]) -> None:
    assert C is not None
    got, want = C.columns(recs, spec), batch.python_columns(recs, spec)
    assert len(got) == len(want) == len(spec.replace(".", ""))
    for g, w in zip(got, want, strict=True):
        assert _eq(g, w), (g, w)


@needs_c
def test_columns_values_and_ids() -> None:
    assert C is not None
    t, dur, *_, failed = C.columns([http(10, failed=None), http(20, failed=1)], ".q." + "d" * 8)
    assert t.tolist() == [10, 20] and t.dtype == np.int64
    assert dur.tolist() == [11.5, 21.5]
    assert math.isnan(failed[0]) and failed[1] == 1.0
    (ids,) = C.columns([sample(1, CHECKS), sample(2, OTHER)], "..o")
    assert ids.tolist() == [id(CHECKS), id(OTHER)]


@needs_c
@pytest.mark.parametrize(("call", "match"), [
    (lambda c: c.columns([http(1), (HTTP, 2)], ".q.d"), "record 1 is not a tuple of at least 4"),
    (lambda c: c.columns([http(1), [HTTP, 2, TAGS_A, 1.0]], ".q.d"), "record 1 is not a tuple"),
    (lambda c: c.columns([sample(1, value="x")], ".q.d"), "record 0, field 3: 'x' is not a num"),
    (lambda c: c.columns([http(1)], ".x"), "spec character 'x'"),
    (lambda c: c.columns([(HTTP, 2**70)], ".q"), "record 0, field 1"),
    (lambda c: c.split_kinds([http(1), (7, 1)]), "record 1: kind 7 is not 0, 1 or 2"),
    (lambda c: c.split_kinds([http(1), ()]), "record 1 is not a tuple starting with its kind"),
    (lambda c: c.all_same([http(1), (HTTP,)], 2), "record 1 has no field 2"),
])
def test_c_refuses_bad_batches_by_record(call: Callable[[Any], object], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call(C)


@pytest.mark.parametrize("call", [
    lambda: batch.python_columns([sample(1, value="x")], ".q.d"),
    lambda: batch.python_columns([http(1), (HTTP, 2)], ".q.d"),
])
def test_python_refuses_what_c_refuses(call: Callable[[], object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        call()


def _implementation(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "from loadgen.metrics import batch; print(batch.IMPLEMENTATION,"
         " batch.columns.__qualname__)"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_no_extensions_forces_the_python_way() -> None:
    assert _implementation({"LOADGEN_NO_EXTENSIONS": "1"}) == "python python_columns"
    if C is not None:
        assert _implementation({"LOADGEN_NO_EXTENSIONS": "0"}) == "c _C.columns"


def test_built_where_a_compiler_is() -> None:
    """`pip install` built the extension when it could: a silently skipped build would
    leave every run on the slower path with nothing saying so."""
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not (shutil.which("gcc") or shutil.which("cc")) or not headers.exists():
        pytest.skip("no C compiler or no Python headers here: the Python way is expected")
    if os.environ.get("LOADGEN_NO_EXTENSIONS", "") not in ("", "0"):
        pytest.skip("LOADGEN_NO_EXTENSIONS is set: the Python way is asked for")
    assert C is not None, "a compiler and Python.h are here but loadgen.metrics._batch is not"
    assert batch.IMPLEMENTATION == "c"


class _Dropper:
    """A value whose __float__ / __eq__ (Python code) empties the batch being read."""

    def __init__(self, batch: list[tuple[object, ...]]) -> None:
        self.batch = batch

    def __float__(self) -> float:
        self.batch.clear()
        return 1.0

    def __eq__(self, other: object) -> bool:
        self.batch.clear()
        return True

    __hash__ = object.__hash__


@needs_c
def test_c_survives_a_value_that_changes_the_batch() -> None:
    """Memory safety: the records are held while a value's Python code runs, and a batch
    that changed size under the loop is an error, never a read of freed memory."""
    assert C is not None
    recs: list[tuple[object, ...]] = [sample(i) for i in range(100)]
    recs.insert(1, sample(1, value=_Dropper(recs)))
    with pytest.raises(RuntimeError, match="the batch changed"):
        C.columns(recs, ".q.d")
    recs = [sample(i) for i in range(100)]
    recs.insert(1, sample(1, tags=_Dropper(recs)))
    with pytest.raises(RuntimeError, match="the batch changed"):
        C.all_same(recs, 4)
