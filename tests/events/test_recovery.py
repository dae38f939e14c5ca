"""Recovery verdicts on synthetic per-interval series: Spike's maths from the fault's end,
the peaks during the fault, whether the target kept answering, gates, and `?` (never a
pass) when the run ended too soon to judge."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen import Recovery
from loadgen.events.recovery import (
    Period,
    RecoveryPlan,
    add_messages,
    judge,
    kept_answering,
)


def plan(**kw: Any) -> RecoveryPlan:
    problems: list[str] = []
    p = Recovery(**{"after": "kill", **kw}).checked("s", problems)
    assert p is not None, problems
    return p


def series(*rows: tuple[float, float, float, int], start: float = 0.0) -> list[Any]:
    """1 s buckets from `start`: (p95 ms, error rate, ... count) per row."""
    return [(start + i, start + i + 1, p95, err, n) for i, (p95, err, _, n) in enumerate(rows)]


OK = (10.0, 0.0, 0, 50)
BAD = (900.0, 1.0, 0, 50)
SLOW = (400.0, 0.2, 0, 50)


def test_recovery_is_timed_from_the_fault_end_to_two_healthy_intervals() -> None:
    s = series(OK, OK, OK, OK, BAD, BAD, SLOW, OK, OK, OK)  # fault 4..6, healthy from 7
    r = judge(plan(within="5s"), s, 4.0, 6.0, 10.0)
    assert r.recovery_s == 1.0 and r.passed is True
    assert (r.peak_p95_ms, r.peak_error_rate) == (900.0, 1.0)
    assert r.to_json() == {"event": "kill", "recovery_s": 1.0, "peak_p95_ms": 900.0,
                           "peak_error_rate": 1.0, "kept_answering": None, "passed": True}
    assert r.verdict().render().startswith("    ✓ s (recovery): recovered 1.0 s after kill")


def test_too_slow_a_recovery_fails_within_and_gates() -> None:
    s = series(OK, OK, OK, OK, BAD, BAD, SLOW, SLOW, SLOW, OK, OK, OK)
    r = judge(plan(within="2s"), s, 4.0, 6.0, 12.0)
    assert r.recovery_s == 3.0 and r.passed is False and "more than 2 s" in r.headline
    r = judge(plan(gate=["recovery_s<5", "peak_error_rate<0.5"]), s, 4.0, 6.0, 12.0)
    assert r.passed is False and "peak_error_rate<0.5 failed" in r.headline
    assert judge(plan(gate="recovery_s<=3"), s, 4.0, 6.0, 12.0).passed is True


def test_never_recovering_fails_once_the_deadline_was_seen() -> None:
    s = series(OK, OK, OK, OK, BAD, BAD, *[SLOW] * 10)
    r = judge(plan(within="5s"), s, 4.0, 6.0, 16.0)
    assert r.passed is False and r.recovery_s is None and "did NOT recover" in r.headline
    assert r.to_json()["recovery_s"] is None


@pytest.mark.parametrize(("within", "ended"), [(None, 7.5), ("30s", 16.0)])
def test_a_run_that_ended_too_soon_is_undecided_never_a_pass(within: str | None,
                                                           ended: float) -> None:
    s = series(OK, OK, OK, OK, BAD, BAD, *[SLOW] * 10)[: int(ended)]
    r = judge(plan(within=within), s, 4.0, 6.0, ended)
    assert r.passed is None and r.headline.startswith("cannot tell: the run ended")
    assert r.verdict().render().startswith("    ? s (recovery)")


def test_no_baseline_is_undecided() -> None:
    s = series(BAD, BAD, OK, OK, OK)
    r = judge(plan(), s, 0.0, 2.0, 5.0)
    assert r.passed is None and "no baseline" in r.headline


def test_a_503_is_an_answer_a_refused_connection_is_not() -> None:
    s = series(OK, OK, OK, OK, BAD, BAD, OK, OK, OK)
    answered = [Period(i, i + 1, 50, 0) for i in range(9)]  # 503s: answers
    refused = [Period(i, i + 1, 50, 50 if i in (4, 5) else 0) for i in range(9)]
    silent_but_slow = [Period(i, i + 1, 0 if i == 5 else 50, 0) for i in range(9)]
    assert judge(plan(), s, 4.0, 6.0, 9.0, answered).kept_answering is True
    down = judge(plan(must_answer=True), s, 4.0, 6.0, 9.0, refused)
    assert down.kept_answering is False and down.passed is False
    assert "stopped answering" in down.headline
    assert judge(plan(), s, 4.0, 6.0, 9.0, silent_but_slow).kept_answering is True
    # periods after the recovery do not count against the fault
    assert kept_answering([Period(8, 9, 5, 5)], 4.0, 8.0)


def test_messaging_counts_are_reported_beside_the_verdict() -> None:
    s = series(OK, OK, OK, OK, BAD, OK, OK)
    msgs = {"messages_sent": 100.0, "messages_delivered": 97.0, "messages_lost": 3.0,
            "messages_duplicated": 1.0}
    r = judge(plan(), s, 4.0, 5.0, 7.0)
    add_messages(r, msgs)
    assert r.figures["messages_lost"] == 3.0
    assert "97/100 delivered, 3 lost, 1 duplicated" in r.headline
    quiet = judge(plan(), s, 4.0, 5.0, 7.0)
    add_messages(quiet, {**msgs, "messages_sent": 0.0})  # not a messaging scenario
    assert "messages" not in quiet.headline and "messages_lost" not in quiet.figures
