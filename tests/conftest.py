"""Tests import their helpers (servers, fakes, realrun) from this folder; the timing-sensitive
modules are marked `serial` here, in one list."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


# Modules whose assertions bound wall time, loop lag, recovery figures or CPU shares. `make
# test` runs them in a serial pass of their own after the parallel one: beside another worker's
# load on a 2-core machine they would measure the neighbour, not loadgen. A path here that no
# longer exists fails the collection, so a rename cannot quietly send a module back in parallel.
SERIAL_MODULES = frozenset({
    "test_testtypes.py",
    "test_clock_spin.py",
    "test_open_model.py",
    "test_watch.py",
    "hostile/test_truth.py",
    "hostile/test_events.py",
    "catalog/test_catalog.py",  # the spike scenario's recovery verdict
    # recovery verdicts that must see 2 healthy intervals in the ~2.5 s after a fault: beside
    # another worker's load the p95 of those seconds stayed above the baseline's once in CI
    "catalog/test_resilience_catalog.py",
    "test_segments_k6.py",  # the real k6 drops its last arrival when starved of CPU
    "test_k6_compat.py",  # dropped_iterations == 0 on both sides
})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "serial: timing-sensitive; `make test` runs it alone, after the parallel pass")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = sorted(m for m in SERIAL_MODULES if not (here / m).is_file())
    if missing:
        raise pytest.UsageError(f"tests/conftest.py SERIAL_MODULES names missing files: {missing}")
    for item in items:
        rel = Path(item.path).relative_to(here).as_posix() if here in item.path.parents else ""
        if rel in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)
