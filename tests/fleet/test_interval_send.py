"""A worker's interval send: one orjson pass with infinities spelled out (decoded by the
coordinator as an archive line is), and a pipe write that never waits for the reader."""

from __future__ import annotations

import asyncio
import math
import os

import numpy as np
import orjson
import pytest

from loadgen.fleet import pipe_out
from loadgen.fleet.interval_wire import interval_frame
from loadgen.fleet.pipe_out import PipeOut
from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import Contains, MetricType, tagset
from loadgen.metrics.sinks import GaugeSink
from loadgen.results.interval import UNIT_EXP, Interval

TYPES = {"iteration_latency": (MetricType.TREND, Contains.TIME),
         "http_req_duration": (MetricType.TREND, Contains.TIME),
         "vus": (MetricType.GAUGE, Contains.DEFAULT),
         "level": (MetricType.GAUGE, Contains.DEFAULT)}


def interval_with_infinities() -> Interval:
    iv = Interval(0.0, 1.0, health={"worst_lag_ms": 3.5, "peak_cpu": 0.4,
                                    "saturated": [[0.0, 1.0]], "saturated_seconds": 1})
    tags = tagset({"scenario": "s"})
    lat = TrendSink(unit_exp=UNIT_EXP[Contains.TIME])
    lat.add_many(np.array([1.5, math.inf, 2.5, math.inf]))  # unserved arrivals
    iv.metrics[("iteration_latency", tags)] = lat
    iv.metrics[("http_req_duration", tags)] = TrendSink(unit_exp=UNIT_EXP[Contains.TIME])
    g = GaugeSink()
    g.add(3.0)
    iv.metrics[("vus", tags)] = g
    level = GaugeSink()  # a scenario's own gauge may hold anything a float can
    for v in (-math.inf, math.inf):
        level.add(v)
    iv.metrics[("level", tags)] = level
    return iv


def test_an_interval_with_infinities_crosses_the_wire_whole():
    iv = interval_with_infinities()
    frame = interval_frame(iv, {}, {"active": 1})
    msg = orjson.loads(frame[4:])
    assert msg["t"] == "interval" and msg["status"] == {"active": 1}
    back = Interval.from_json(msg["iv"], TYPES)
    tags = tagset({"scenario": "s"})
    lat, want = back.metrics[("iteration_latency", tags)], iv.metrics[("iteration_latency", tags)]
    assert isinstance(lat, TrendSink) and isinstance(want, TrendSink)
    assert (lat.count, lat.unserved, lat.min, lat.max) == (want.count, want.unserved, 1.5,
                                                           want.max)
    empty = back.metrics[("http_req_duration", tags)]
    assert isinstance(empty, TrendSink) and empty.count == 0
    assert (empty.min, empty.max) == (iv.metrics[("http_req_duration", tags)].min,  # type: ignore[union-attr]
                                      iv.metrics[("http_req_duration", tags)].max)  # type: ignore[union-attr]
    assert back.health == iv.health
    level = back.metrics[("level", tags)]
    assert isinstance(level, GaugeSink)
    assert (level.value, level.min, level.max) == (math.inf, -math.inf, math.inf)


def test_plain_orjson_would_have_lost_them():
    """Why the strings: orjson writes an infinity as null, which no reader takes back."""
    iv = interval_with_infinities()
    raw = orjson.loads(orjson.dumps(iv.to_json()))
    with pytest.raises(ValueError, match="malformed"):
        Interval.from_json(raw, TYPES)


async def test_a_frame_bigger_than_the_pipe_goes_out_without_waiting_for_the_reader():
    r, w = os.pipe()
    try:
        out = await PipeOut.open(w)
        frame = b"x" * (1 << 20)  # 16 pipe buffers: a blocking write would wait for a reader
        out.write(frame)
        out.write(b"end")
        assert out.transport is not None and out.transport.get_write_buffer_size() > 0
        got = bytearray()

        def read() -> None:
            while len(got) < len(frame) + 3:
                got.extend(os.read(r, 1 << 16))

        reader = asyncio.get_running_loop().run_in_executor(None, read)
        await out.drain(10.0)
        await asyncio.wait_for(reader, 10.0)
        assert bytes(got) == frame + b"end"
        assert out.transport.get_write_buffer_size() == 0
        out.transport.close()
    finally:
        os.close(r)
        os.close(w)


async def test_a_coordinator_that_stops_reading_is_a_bounded_write_error(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pipe_out, "MAX_PENDING", 1 << 20)
    r, w = os.pipe()
    try:
        out = await PipeOut.open(w)
        out.write(b"x" * (1 << 19))
        out.write(b"x" * (1 << 19))
        with pytest.raises(OSError, match="has not read"):
            out.write(b"x" * (1 << 19))
        assert out.transport is not None
        out.transport.abort()
    finally:
        os.close(r)
        os.close(w)
