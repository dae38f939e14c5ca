"""The N slowest requests: bounded, only slower-than-the-Nth requests enter, a fleet's
coordinator keeps the N slowest of its workers'."""

from __future__ import annotations

import math
import random

from urls import with_user

from loadgen.metrics.model import tagset
from loadgen.metrics.slowest import SlowestRequests

T = tagset({"name": "n", "scenario": "s"})


def test_keeps_the_n_slowest_slowest_first_and_raises_its_floor() -> None:
    s = SlowestRequests(3)
    values = [float(v) for v in range(1000)]
    random.Random(1).shuffle(values)
    for v in values:
        if v > s.floor:  # what the HTTP client does
            s.offer(v, "GET", "http://127.0.0.1/x", T, 200, None)
    assert [r["duration_ms"] for r in s.rows()] == [999.0, 998.0, 997.0]
    assert s.floor == 997.0 and len(s._heap) == 3


def test_credentials_never_reach_the_list() -> None:
    s = SlowestRequests(1)
    s.offer(5.0, "GET", with_user("http://127.0.0.1/x", "user", "secret"), T, 500, "ab")
    (row,) = s.rows()
    assert "secret" not in row["url"] and row["trace_id"] == "ab" and row["status"] == 500


def test_off_admits_nothing() -> None:
    s = SlowestRequests(0)
    assert s.floor == math.inf
    s.offer(1e9, "GET", "u", T, 200, None)
    assert s.rows() == []


def test_the_coordinator_keeps_the_n_slowest_of_all_workers() -> None:
    workers = []
    for base in (0.0, 100.0):
        w = SlowestRequests(2)
        for v in (base + 1, base + 2, base + 3):
            w.offer(v, "GET", f"http://127.0.0.1/{base}", T, 200, f"{int(v):032x}")
        workers.append(w.rows())
    coord = SlowestRequests(2)
    for rows in workers:
        coord.absorb(rows + [{"bad": 1}])  # a malformed row is skipped, not fatal
    assert [r["duration_ms"] for r in coord.rows()] == [103.0, 102.0]
