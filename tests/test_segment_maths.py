"""k6's execution segments: parsing with k6's wording, the striped maths, and properties
that make a split test the unsplit one (every index owned by exactly one segment)."""

from __future__ import annotations

import random
from fractions import Fraction as F
from itertools import islice

import pytest

from loadgen.errors import ConfigError
from loadgen.execution.segments import (
    MAX_LCD,
    MAX_STRIPE_STEPS,
    ExecutionTuple,
    LocalCounter,
    Segment,
    parse_rat,
    parse_segment,
    parse_sequence,
    resolve,
)

THIRDS = parse_sequence("0,1/3,2/3,1")


def tuples(seq: list[Segment]) -> list[ExecutionTuple]:
    return [ExecutionTuple.of(s, seq) for s in seq]


@pytest.mark.parametrize(("text", "start", "end"), [
    ("1/3:2/3", F(1, 3), F(2, 3)), ("0:0.5", F(0), F(1, 2)), ("50%:100%", F(1, 2), F(1)),
    ("2/4:75%", F(1, 2), F(3, 4)), ("20%", F(0), F(1, 5)), ("0.2", F(0), F(1, 5)),
    ("", F(0), F(1)),
])
def test_segment_forms_k6_accepts(text, start, end):
    assert parse_segment(text) == Segment(start, end)


@pytest.mark.parametrize(("text", "message"), [
    ("1/3:2/3x", "'2/3x' is not a valid percentage, decimal, fraction or interval value"),
    ("2/3:1/3", "segment start(0.67) must be less than its end(0.33)"),
    ("0:1.5", "segment end value can't be more than 1 but was 1.50"),
    ("-0.1:0.5", "segment start value must be at least 0 but was -0.10"),
    ("5.5%:10%", "'5.5%' is not a valid percentage"),
    ("0:1/0", "'1/0' is not a valid percentage, decimal, fraction or interval value"),
    ("0: 1/2", "' 1/2' is not a valid percentage, decimal, fraction or interval value"),
])
def test_bad_segments_get_k6s_wording(text, message):
    with pytest.raises(ValueError, match="segment|valid") as e:
        parse_segment(text)
    assert str(e.value) == message


def test_bad_sequences_and_missing_segment_are_config_errors():
    with pytest.raises(ConfigError) as e:
        resolve("1/3:2/3x", "0")
    assert e.value.problems == [
        "--execution-segment: '2/3x' is not a valid percentage, decimal, fraction or interval "
        "value",
        "--execution-segment-sequence: at least 2 points are needed for an execution segment "
        "sequence, 1 given"]
    with pytest.raises(ConfigError) as e:
        resolve("0:1/3", "0,1/2,1")
    assert e.value.problems == ["provided segment 0:1/3 can't be found in sequence 0,1/2,1"]
    with pytest.raises(ConfigError) as e:  # a sequence alone: the whole test is not in it
        resolve(None, "0,1/3,2/3,1")
    assert e.value.problems == ["provided segment 0:1 can't be found in sequence 0,1/3,2/3,1"]
    with pytest.raises(ConfigError) as e:  # a pattern too long to build: bounded, not a hang
        resolve("0:0.1234567", None)
    assert f"at most {MAX_LCD}" in e.value.problems[0]
    many = ",".join(["0", *(f"{i}/1000" if i % 2 else f"{1000 * i + 1}/1000000"
                            for i in range(1, 500)), "1"])
    with pytest.raises(ConfigError) as e:  # 500 segments over 1e6: refused, not minutes
        resolve("0:1/1000", many)
    assert f"at most {MAX_STRIPE_STEPS} (segments x denominator)" in e.value.problems[0]


def test_without_a_sequence_the_gaps_are_filled():
    t = resolve("1/3:2/3", None)
    assert str(t) == "1/3:2/3 in 0,1/3,2/3,1"
    assert resolve(None, None).is_full and resolve("0:1", None).scale(7) == 7


def test_k6_observed_shares_for_thirds():
    ts = tuples(THIRDS)
    assert [t.scale(5) for t in ts] == [2, 2, 1]
    assert [t.scale(6) for t in ts] == [2, 2, 2]
    assert [t.scale(30) for t in ts] == [10, 10, 10]
    # shared-iterations: 20 iterations over 5 VUs split as the VUs were (8/8/4)
    assert [t.for_value(5).scale(20) for t in ts] == [8, 8, 4]  # type: ignore[union-attr]
    # ... and numbered along that split, as k6's iterationInTest (0,3,5,8,...)
    first = ts[0].for_value(5)
    assert first is not None and list(islice(first.indices(), 5)) == [0, 3, 5, 8, 10]


def test_bigger_segments_get_their_indices_first():
    ts = tuples(parse_sequence("0,1/4,1/2,1"))
    assert [t.owned for t in ts] == [(1,), (3,), (0, 2)]


def random_sequence(rng: random.Random) -> list[Segment]:
    den = rng.choice([2, 3, 4, 5, 6, 7, 10, 12, 100])
    cuts = sorted(rng.sample(range(1, den), k=rng.randint(0, min(den - 1, 5))))
    points = [F(0)] + [F(c, den) for c in cuts] + [F(1)]
    return [Segment(a, b) for a, b in zip(points, points[1:], strict=False)]


def test_property_every_index_has_exactly_one_owner():
    rng = random.Random(12)
    for _ in range(200):
        seq = random_sequence(rng)
        ts = tuples(seq)
        value = rng.randint(0, 500)
        shares = [t.scale(value) for t in ts]
        assert sum(shares) == value, seq
        for t in ts:  # whole cycles split exactly
            assert t.scale(value * t.lcd) == value * t.lcd * t.segment.length
        owners: dict[int, int] = {}
        for i, t in enumerate(ts):
            c = LocalCounter(t)
            for _ in range(t.scale(value)):
                g = c.next()
                assert g not in owners
                owners[g] = i
        assert sorted(owners) == list(range(value))  # the union is the unsplit 0..value-1
        recut = [t.for_value(value) for t in ts] if value else []
        if value:  # the re-cut sequence splits a second value consistently too
            second = rng.randint(value, 3 * value)
            assert sum(r.scale(second) for r in recut if r is not None) == second
            assert all((r is None) == (s == 0) for r, s in zip(recut, shares, strict=True))


def test_parse_rat_forms():
    assert parse_rat("1e-1") == F(1, 10) and parse_rat("25%") == F(1, 4)
    for bad in ("1_0", "1e999999999", " 1"):
        with pytest.raises(ValueError, match="not a valid percentage, decimal"):
            parse_rat(bad)


@pytest.mark.parametrize(("seq", "seg", "expected"), [
    # (first index, steps, LCD) as k6 1.x computes them for these splits
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", (0, [4, 3, 3], 10)),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", (1, [4, 6], 10)),
    ("0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", (8, [10], 10)),
    ("0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0:0.2", (1, [4, 6], 10)),
    ("0,0.2,0.5", "0:0.2", (3, [6, 4], 10)),
    ("0,0.2,0.5", "0.2:0.5", (1, [4, 2, 4], 10)),
    ("0,2/5,4/5", "2/5:4/5", (1, [3, 2], 5)),
    (None, "0:0.2", (1, [5], 5)),
    (None, "0:0.4", (1, [2, 3], 5)),
    (None, "1/10:5/10", (1, [2, 2, 4, 2], 10)),
])
def test_striped_offsets_are_k6s(seq, seg, expected):
    assert resolve(seg, seq).striped_offsets() == expected
