"""The load runs with the start-of-run heap frozen (no full-collection pauses over modules,
VUs and setup data), and the collector is back to normal once the executors end."""

from __future__ import annotations

import gc

from fakes import Harness

from loadgen import ConstantVUs, Scenario
from loadgen.execution.heap import frozen_heap

SEEN: list[int] = []


class Probe(Scenario):
    async def iteration(self, vu):
        SEEN.append(gc.get_freeze_count())
        await vu.sleep(0.5)


async def test_iterations_run_on_a_frozen_heap_and_it_is_thawed_after():
    SEEN.clear()
    assert gc.get_freeze_count() == 0
    h = Harness()
    await h.run((Probe, ConstantVUs(vus=2, duration="2s")))
    assert SEEN and min(SEEN) > 1000  # modules and VUs alike are out of the collector's walk
    assert gc.get_freeze_count() == 0


def _collectable(obj: object) -> bool:
    """In one of the collector's three generations (a frozen object is in none)."""
    return any(o is obj for g in range(3) for o in gc.get_objects(generation=g))


def test_nested_blocks_thaw_once_at_the_outer_end():
    # Followed through one object, not the frozen count: that count also drops whenever a
    # frozen object is freed (another thread of the test runner's), which says nothing here.
    sentinel: list[object] = []
    with frozen_heap():
        assert not _collectable(sentinel)
        with frozen_heap():
            assert not _collectable(sentinel)
        assert not _collectable(sentinel)  # the inner block did not thaw the outer one
    assert _collectable(sentinel)
    assert gc.get_freeze_count() == 0


YOUNG: list[int] = []


class ThresholdProbe(Scenario):
    async def iteration(self, vu):
        YOUNG.append(gc.get_threshold()[0])
        await vu.sleep(0.5)


async def test_the_young_generation_is_bigger_while_the_load_runs_and_restored_after():
    YOUNG.clear()
    before = gc.get_threshold()
    h = Harness()
    await h.run((ThresholdProbe, ConstantVUs(vus=1, duration="1s")))
    assert YOUNG and min(YOUNG) >= 50_000 > before[0]
    assert gc.get_threshold() == before  # the older generations' and the end's are CPython's
