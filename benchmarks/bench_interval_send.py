"""How long a `--workers` worker's event loop stops, once a second, to send its interval.

A worker cuts its interval snapshot every second, serialises it and writes the frame to the
coordinator's pipe; its loop does nothing else meanwhile, so the pause shows up as lag in
its own iterations. This feeds a real IntervalRecorder what a worker at `--rate` requests/s
records (HTTP samples over a few tag sets, iterations, checks, open-model latencies with
some unserved), then times, per second, cut + encode + write for:

* before: stdlib `json` of the interval (to keep infinities), that text inside an orjson
  frame, a blocking `os.write` loop on the pipe (the code before this change, copied here);
* after: `loadgen.fleet.interval_wire.interval_frame` (orjson once, infinities as strings) and a
  non-blocking pipe transport write.

The reader is `cat > /dev/null` in a child process. Run (about 30 s):

    taskset -c 0 .venv/bin/python benchmarks/bench_interval_send.py --rate 5000 --seconds 12 \
        --reader-cpu 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import subprocess
import time
from collections.abc import Callable

from loadgen.fleet.interval_wire import interval_frame
from loadgen.fleet.pipe_out import PipeOut
from loadgen.fleet.wire import encode, write_all
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.interval import Interval, IntervalRecorder

STATUS = {"active": 10, "allocated": 20, "complete": 1000, "interrupted": 0}


def feed(reg: Registry, rec: Recorder, rate: int, second: int) -> list[tuple[object, ...]]:
    """One second of a busy worker's records."""
    base = second * 1_000_000_000
    tags = [tagset({"scenario": "s", "method": "GET", "name": f"/api/{i}", "status": "200",
                    "expected_response": "true", "proto": "HTTP/1.1"}) for i in range(4)]
    itags = tagset({"scenario": "s"})
    checks = tagset({"scenario": "s", "check": "status is 200"})
    rng = random.Random(second)
    for k in range(rate):
        t = base + k * (1_000_000_000 // rate)
        d = rng.lognormvariate(0.5, 0.6)
        rec.http(t, tags[k % 4], d, 0.0, 0.0, 0.0, 0.01, d - 0.02, 0.01, 0)
        rec.sample(reg["iterations"], 1.0, itags, t)
        rec.sample(reg["iteration_duration"], d + 0.1, itags, t)
        rec.sample(reg["checks"], 1.0, checks, t)
        lat = math.inf if k % 997 == 0 else d + 0.2  # a few unserved arrivals
        rec.sample(reg["iteration_latency"], lat, itags, t)
        rec.sample(reg["iteration_lag"], 0.05, itags, t)
    return rec.drain()


def start_reader(cpu: int | None) -> subprocess.Popen[bytes]:
    """`cat > /dev/null`: the coordinator's stand-in, reading the pipe as fast as it can."""
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return subprocess.Popen([*pin, "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def before(iv: Interval, out: Callable[[bytes], None]) -> int:
    text = json.dumps(iv.to_json(), separators=(",", ":"))
    frame = encode({"t": "interval", "iv": text, "types": {}, "status": STATUS})
    out(frame)
    return len(frame)


def after(iv: Interval, out: Callable[[bytes], None]) -> int:
    frame = interval_frame(iv, {}, STATUS)
    out(frame)
    return len(frame)


async def measure(rate: int, seconds: int, how: str, reader_cpu: int | None,
                  ) -> list[tuple[float, int]]:
    reg = Registry()
    for name in ("iteration_lag", "iteration_latency"):
        if name not in reg.metrics:
            from loadgen.metrics.model import Contains, MetricType
            reg.define(name, MetricType.TREND, Contains.TIME)
    rec = Recorder()
    ivr = IntervalRecorder(reg)
    ivr.start(0)
    cat = start_reader(reader_cpu)
    assert cat.stdin is not None
    fd = cat.stdin.fileno()
    pipe = None
    if how == "after":
        pipe = await PipeOut.open(fd)
        out: Callable[[bytes], None] = pipe.write
    else:
        def out(frame: bytes) -> None:
            write_all(fd, frame)
    send = after if how == "after" else before
    pauses = []
    for s in range(seconds):
        ivr.ingest(feed(reg, rec, rate, s))
        t0 = time.perf_counter()
        iv = ivr.cut(float(s + 1), {"saturated": [], "saturated_seconds": 0,
                                    "worst_lag_ms": 1.0, "peak_cpu": 0.5})
        size = send(iv, out)
        pauses.append(((time.perf_counter() - t0) * 1e3, size))
        await asyncio.sleep(0.05)  # the loop runs on; the transport drains meanwhile
    if pipe is not None:
        await pipe.drain(10.0)
    cat.stdin.close()
    cat.wait(10)
    return pauses


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--seconds", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reader-cpu", type=int, default=None,
                   help="pin the pipe's reader (the coordinator's stand-in) to this CPU")
    a = p.parse_args()
    results: dict[str, list[list[tuple[float, int]]]] = {"before": [], "after": []}
    for _ in range(a.rounds):
        for how in ("before", "after"):
            results[how].append(asyncio.run(measure(a.rate, a.seconds, how, a.reader_cpu)))
    print(f"loop pause per interval send, {a.rate} req/s, {a.seconds} s x {a.rounds} rounds "
          "(ms; first 2 s: raw values, then histograms)")
    print("| send | first 2 s median | first 2 s max | later median | later max | frame KB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for how, runs in results.items():
        first = [ms for r in runs for ms, _ in r[:2]]
        later = [ms for r in runs for ms, _ in r[2:]]
        kb = statistics.median(size for r in runs for _, size in r[2:]) / 1024
        print(f"| {how} | {statistics.median(first):.2f} | {max(first):.2f} | "
              f"{statistics.median(later):.2f} | {max(later):.2f} | {kb:.0f} |")


if __name__ == "__main__":
    main()
