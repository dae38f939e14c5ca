"""The fleet's pure parts: choosing the worker count, the frame format, a worker's config,
and the engine's two fleet roles (a worker that gets setup data; a coordinator whose load
runs elsewhere), on the fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import Harness

from loadgen import VU, ConstantVUs, Scenario
from loadgen.errors import ConfigError
from loadgen.execution.engine import Engine, Hooks, ScenarioSpec
from loadgen.fleet import sizing
from loadgen.fleet.wire import MAX_FRAME, WireError, encode, read_frame
from loadgen.fleet.worker import worker_config


@pytest.mark.parametrize(("cores", "url", "n", "why"), [
    (4, "http://127.0.0.1:8000", 3, "one left to the loopback target 127.0.0.1"),
    (4, "http://localhost/", 3, "one left to the loopback target"),
    (4, "http://staging.example.com:80", 4, "auto: 4 usable core(s)"),  # parsed, never contacted
    (4, None, 4, "auto: 4 usable core(s)"),
    (1, "http://127.0.0.1:8000", 1, "one left"),
])
def test_auto_is_the_usable_cores_minus_one_for_a_loopback_target(
        monkeypatch: pytest.MonkeyPatch, cores: int, url: str | None, n: int, why: str):
    monkeypatch.setattr(sizing, "usable_cores", lambda: cores)
    got, reason = sizing.choose("auto", [None, url]) or (0, "")
    assert got == n and why in reason


def test_more_workers_than_cores_is_allowed_and_said(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sizing, "usable_cores", lambda: 2)
    assert sizing.choose(" 3 ", []) == (3, "as asked; more than the 2 usable core(s): "
                                          "they will share them")
    assert sizing.choose(None, []) is None  # no flag: the single-process path


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1.0", "x", "", "١", "100000"])
def test_bad_worker_counts(value: str):
    with pytest.raises(ConfigError, match="--workers"):
        sizing.choose(value, [])


def test_segments_of_an_even_sequence():
    assert sizing.even_sequence(3) == "0,1/3,2/3,1"
    assert [sizing.segment(i, 3) for i in range(3)] == ["0/3:1/3", "1/3:2/3", "2/3:3/3"]
    assert sizing.segment(0, 1) == "0:1"


def test_a_worker_runs_its_segment_and_its_share_of_the_rate_cap():
    cfg = worker_config({"index": 1, "workers": 4, "kw": {
        "file": "s.py", "rps_limit": 100.0, "summary_export": "x.json", "quiet": False}})
    seg = cfg.overrides.segment
    assert str(seg.segment) == "1/4:1/2" and len(seg.sequence) == 4
    assert cfg.rps_limit == 25.0
    assert cfg.quiet and cfg.results.summary_export is None  # only the coordinator writes


async def frames(data: bytes) -> list[dict[str, Any] | None]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out = []
    while (msg := await read_frame(reader)) is not None:
        out.append(msg)
    return out


async def test_frames_round_trip_and_end_cleanly():
    assert await frames(encode({"t": "a", "n": 1}) + encode({"t": "b"})) == [
        {"t": "a", "n": 1}, {"t": "b"}]


@pytest.mark.parametrize(("data", "message"), [
    (encode({"t": "a"})[:-1], "inside a frame"),
    (b"\x00\x00", "inside a frame header"),
    ((MAX_FRAME + 1).to_bytes(4, "big"), "over the"),
    ((2).to_bytes(4, "big") + b"{]", "not JSON"),
    ((2).to_bytes(4, "big") + b"[]", "not a message object"),
])
async def test_bad_frames_are_named(data: bytes, message: str):
    with pytest.raises(WireError, match=message):
        await frames(data)


def test_data_that_is_not_json_cannot_be_sent():
    with pytest.raises(WireError):
        encode({"t": "go", "setup": {"s": {1, 2}}})


class WithHooks(Scenario):
    setups = 0
    teardowns: list[Any] = []
    seen: list[Any] = []

    async def setup(self) -> dict[str, int]:
        type(self).setups += 1
        return {"token": 7}

    async def iteration(self, vu: VU) -> None:
        type(self).seen.append(vu.data)
        await vu.sleep(0.5)

    async def teardown(self, data: Any) -> None:
        type(self).teardowns.append(data)


def spec() -> ScenarioSpec:
    WithHooks.setups, WithHooks.teardowns, WithHooks.seen = 0, [], []
    return ScenarioSpec(WithHooks.scenario_name(), WithHooks,
                        ConstantVUs(vus=2, duration="1s"), base_url="http://127.0.0.1:9")


async def test_a_worker_engine_takes_setup_data_and_runs_neither_hook():
    h = Harness()
    engine = Engine(h.run_ctx, [spec()], Hooks(ingest=h.records.extend),
                    setup_data={WithHooks.scenario_name(): {"token": 9}}, sample_vus=False)
    await h.clock.run(engine.execute())
    assert WithHooks.setups == 0 and WithHooks.teardowns == []
    assert WithHooks.seen and all(d == {"token": 9} for d in WithHooks.seen)
    assert h.samples("vus") == []  # its coordinator samples the fleet's sums


async def test_a_coordinator_engine_runs_setup_and_teardown_once_around_the_load():
    h = Harness()
    got: list[Any] = []

    async def load(engine: Engine, data: dict[str, Any]) -> None:
        got.append(data)
        await h.clock.sleep(1.5)

    engine = Engine(h.run_ctx, [spec()], Hooks(ingest=h.records.extend, load=load,
                                               vu_counts=lambda: (5, 8)))
    await h.clock.run(engine.execute())
    name = WithHooks.scenario_name()
    assert got == [{name: {"token": 7}}]
    assert WithHooks.setups == 1 and WithHooks.teardowns == [{"token": 7}]
    assert WithHooks.seen == []  # no executor ran here
    assert {v for _, v, _ in h.samples("vus")} == {5.0}
    assert {v for _, v, _ in h.samples("vus_max")} == {8.0}


@pytest.mark.parametrize(("now", "cut"), [
    (0, 100), (99, 100), (100, 1100), (950, 1100), (1100, 2100), (1101, 2100)])
def test_worker_cuts_follow_each_second_of_the_run(now: int, cut: int):
    from loadgen.fleet import worker

    ms = 1_000_000
    origin = 5_000 * ms  # any origin: cuts are relative to the run's start
    assert worker.next_cut(origin, origin + now * ms) == origin + cut * ms


class FakeFleet:
    def __init__(self) -> None:
        self.workers = [type("W", (), {"running": r})() for r in (True, True, False)]

    def vu_counts(self) -> tuple[int, int]:
        return 7, 9

    def iterations(self) -> tuple[int, int]:
        return 120, 3


class FakeEngine:
    def elapsed_s(self) -> float:
        return 4.25


def test_fleet_progress_sums_the_workers():
    import io

    from loadgen.fleet.progress import FleetProgress

    stream = io.StringIO()
    FleetProgress(FakeFleet(), stream)(FakeEngine(), True)
    assert stream.getvalue() == ("running (004.2s), 07/09 VUs, 120 complete and 3 interrupted "
                                 "iterations, 2/3 workers running\n")
    quiet = io.StringIO()
    FleetProgress(FakeFleet(), quiet, enabled=False)(FakeEngine(), True)
    assert quiet.getvalue() == ""
