"""A fleet that runs one execution segment splits it among its workers (NestedTuple): the
workers' shares must add up to the segment's exactly and own disjoint subsets of its
test-wide indices, for every value, so that the fleet and the other instances of the test
together still run the unsplit test."""

from __future__ import annotations

import pytest

from loadgen.execution.segments import ExecutionTuple, nest, resolve
from loadgen.fleet.sizing import even_sequence, segment
from loadgen.fleet.worker import worker_config

OUTERS = [("0:1/2", "0,1/2,1"), ("1/2:1", "0,1/2,1"), ("1/3:2/3", "0,1/3,2/3,1"),
          ("0:1/3", "0,1/3,1"), ("2/5:1", "0,1/5,2/5,1")]


def split(outer: ExecutionTuple, n: int) -> list[ExecutionTuple]:
    return [nest(outer, resolve(segment(i, n), even_sequence(n))) for i in range(n)]


@pytest.mark.parametrize(("seg", "seq"), OUTERS)
@pytest.mark.parametrize("n", [2, 3, 4])
def test_workers_split_their_segment_exactly(seg: str, seq: str, n: int):
    outer = resolve(seg, seq)
    kids = split(outer, n)
    window = range(outer.lcd * n * 3)
    owned = {g for g in window if outer.owns(g)}
    mine = [{g for g in window if k.owns(g)} for k in kids]
    assert set().union(*mine) == owned
    assert sum(map(len, mine)) == len(owned)  # disjoint
    for value in range(0, 61):
        assert sum(k.scale(value) for k in kids) == outer.scale(value), value
    for k, own in zip(kids, mine, strict=True):  # local numbering lands on owned indices
        firsts = [k.global_index(c) for c in range(k.scale(len(window)))]
        assert set(firsts) == own
        assert firsts == [g for _, g in zip(firsts, k.indices(), strict=False)]


@pytest.mark.parametrize(("seg", "seq"), OUTERS)
def test_iterations_dealt_by_vus_add_up_to_the_segments(seg: str, seq: str):
    """shared-iterations: VUs first, then iterations along the VUs' split (k6's re-cut)."""
    outer = resolve(seg, seq)
    kids = split(outer, 2)
    for vus in range(1, 12):
        by_outer = outer.for_value(vus)
        for iterations in (1, 7, 10, 11, 100):
            want = by_outer.scale(iterations) if by_outer is not None else 0
            got = 0
            for k in kids:
                by_vus = k.for_value(vus)
                got += by_vus.scale(iterations) if by_vus is not None else 0
            assert got == want, (vus, iterations)


def test_a_whole_side_is_the_other_tuple():
    half = resolve("0:1/2", "0,1/2,1")
    assert nest(half, resolve(None, None)) is half
    assert nest(resolve(None, None), half) is half


def test_a_segmented_fleet_gives_each_worker_a_share_of_its_segment():
    cfg = worker_config({"index": 1, "workers": 2, "kw": {
        "file": "s.py", "execution_segment": "0:1/2",
        "execution_segment_sequence": "0,1/2,1"}})
    seg = cfg.overrides.segment
    assert str(seg.segment) == "1/4:1/2" and not seg.is_full
    assert seg.scale(10) == 2 and seg.scale(11) == 3  # 0:1/2 of 11 is 6: 3 + 3
