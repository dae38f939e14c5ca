"""vu.check() in C (`_check.c`), where it was built: k6's check() without a Python frame.

`install(VU)` makes `VU.check` the C method; its Python twin stays as `VU.py_check`, which
the C method calls itself for anything but the plain case (a dict of checks, no tags of the
call's own, a VU on the real clock: see `target`). Both make the same samples and log the
same failures (tests/test_fast_check.py runs them side by side). LOADGEN_NO_EXTENSIONS=1
(read at import) leaves the Python method in place.

Why: with the plain GET and the iteration runner in C, the check was ~76 of the ~175
bytecodes left in an HTTP iteration (benchmarks/bench_instructions.py).
"""

from __future__ import annotations

from typing import Any

from loadgen import extensions
from loadgen.clock import RealClock
from loadgen.metrics.model import SAMPLE
from loadgen.metrics.registry import Recorder

_C = extensions.load("loadgen.scripting._check")


def target(rt: Any) -> tuple[Any, Any] | None:
    """(recorder, checks metric) of a VU's scope for the C check, or None (no C build, a
    clock other than the real one, a scope without them)."""
    if _C is None or type(getattr(rt, "clock", None)) is not RealClock:
        return None
    recorder, metric = getattr(rt, "recorder", None), getattr(rt, "m_checks", None)
    if type(recorder) is not Recorder or metric is None:
        return None
    return recorder, metric


def install(vu_cls: type) -> None:
    """VU.check in C where it was built (VU.py_check stays the twin)."""
    if _C is not None:
        vu_cls.check = _C.method(vu_cls, Recorder, vu_cls.py_check, SAMPLE)  # type: ignore[attr-defined]
