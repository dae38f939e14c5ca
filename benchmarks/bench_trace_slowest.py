"""What `--trace-header` and `--slowest N` add to one request on the client's own path, and
what the per-name views (`loadgen.endpoints`, always on) add to ingest per record.

`vu.http.get` against an in-memory transport that answers at once (no sockets: only the
client's work is timed), with durations drawn at random so the slowest tracker sees a
realistic stream (most requests compared once, few materialised). Prints ns per request for
each setting and the difference to "both off". Pin it: `taskset -c 1 .venv/bin/python
benchmarks/bench_trace_slowest.py`.
"""

from __future__ import annotations

import asyncio
import random
import time

from loadgen.clock import RealClock
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.slowest import SlowestRequests
from loadgen.net.client import HttpClient
from loadgen.net.meter import Meter
from loadgen.net.trace import TraceIds
from loadgen.net.types import RawResponse, Request, Timings

N = 200_000
ROUNDS = 5


class Instant:
    """A transport that answers every request at once with a random duration."""

    def __init__(self) -> None:
        rng = random.Random(7)
        self.waits = [rng.lognormvariate(1.0, 0.8) for _ in range(4096)]
        self.i = 0

    async def send(self, request: Request) -> RawResponse:
        self.i = (self.i + 1) & 4095
        return RawResponse(status=200, proto="HTTP/1.1",
                           timings=Timings(waiting=self.waits[self.i]))

    async def close(self) -> None:
        return None


class Tags:
    sample_tags = tagset({"scenario": "bench", "group": ""})


async def per_request_ns(trace: TraceIds | None, slowest: SlowestRequests | None) -> float:
    reg, rec, clock = Registry(), Recorder(), RealClock()
    meter = Meter(rec, clock, Tags(), reg, slowest=slowest, trace=trace)
    client = HttpClient(meter, Instant(), base_url="http://127.0.0.1:9",
                        expected=((200, 399),), tag_cache={})
    t0 = time.perf_counter_ns()
    for i in range(N):
        await client.get("/x", name="x")
        if i & 1023 == 0:
            rec.drain()
    return (time.perf_counter_ns() - t0) / N


def record_ns(slowest: SlowestRequests | None) -> float:
    """The recording step alone (HttpClient._record), where the tracker is consulted."""
    reg, rec, clock = Registry(), Recorder(), RealClock()
    client = HttpClient(Meter(rec, clock, Tags(), reg, slowest=slowest), Instant(),
                        base_url=None, expected=((200, 399),), tag_cache={})
    waits = Instant().waits
    raws = [RawResponse(status=200, proto="HTTP/1.1", timings=Timings(waiting=w))
            for w in waits]
    t0 = time.perf_counter_ns()
    for i in range(N):
        client._record("GET", "http://127.0.0.1:9/x", "x", None, raws[i & 4095],
                       ((200, 399),), None)
        if i & 1023 == 0:
            rec.drain()
    return (time.perf_counter_ns() - t0) / N


def ingest_ns(names: int, views: bool, batches: int = 200, per: int = 1000) -> float:
    """Store ingest per HTTP record, requests spread over `names` request names."""
    from loadgen.metrics.ingest import Store
    from loadgen.metrics.model import HTTP
    from loadgen.results.endpoints import EndpointViews

    store = Store(Registry())
    if views:
        EndpointViews(store)
    tags = [tagset({"name": f"n{i}", "url": f"n{i}", "method": "GET", "status": "200",
                    "scenario": "s", "expected_response": "true"}) for i in range(names)]
    rng = random.Random(1)
    pool = [[(HTTP, 1, tags[rng.randrange(names)], 5.0, 0.0, 0.0, 0.0, 0.1, 4.8, 0.1, 0)
             for _ in range(per)] for _ in range(20)]
    t0 = time.perf_counter_ns()
    for b in range(batches):
        store.ingest(pool[b % 20])
    return (time.perf_counter_ns() - t0) / (batches * per)


async def main() -> None:
    settings = {"both off": (None, None), "--trace-header": (TraceIds(), None),
                "--slowest 10": (None, SlowestRequests(10)),
                "--slowest 1000": (None, SlowestRequests(1000)),
                "both (defaults)": (TraceIds(), SlowestRequests(10))}
    best = {k: float("inf") for k in settings}
    for _ in range(ROUNDS):  # interleaved, best of rounds: the machine is shared
        for name, (trace, slow) in settings.items():
            if slow is not None:
                slow.__init__(slow.n)  # type: ignore[misc]
            best[name] = min(best[name], await per_request_ns(trace, slow))
    base = best["both off"]
    print(f"{'setting':<18} {'ns/request':>11} {'added':>9}")
    for name, ns in best.items():
        print(f"{name:<18} {ns:>11.0f} {ns - base:>+9.0f}")
    rec = {"record, off": float("inf"), "record, --slowest 10": float("inf")}
    for _ in range(ROUNDS):
        rec["record, off"] = min(rec["record, off"], record_ns(None))
        rec["record, --slowest 10"] = min(rec["record, --slowest 10"],
                                          record_ns(SlowestRequests(10)))
    for name, ns in rec.items():
        print(f"{name:<22} {ns:>7.0f} ns")
    ids = TraceIds()
    t0 = time.perf_counter_ns()
    for _ in range(N):
        ids.new()
    print(f"{'trace id (traceparent)':<22} {(time.perf_counter_ns() - t0) / N:>7.0f} ns")
    print(f"\n{'names':>5} {'ingest ns/record':>17} {'with views':>11} {'added':>7}")
    for names in (1, 10, 100, 500):
        off = min(ingest_ns(names, False) for _ in range(3))
        on = min(ingest_ns(names, True) for _ in range(3))
        print(f"{names:>5} {off:>17.0f} {on:>11.0f} {on - off:>+7.0f}")


if __name__ == "__main__":
    asyncio.run(main())
