"""What metrics cost per request: the same closed-model HTTP load with metrics off and on.

    .venv/bin/python benchmarks/bench_metrics.py            # 5 s per run, 5 rounds
    .venv/bin/python benchmarks/bench_metrics.py --duration 10 --rounds 3

One process, pinned to CPU 0 (nginx pinned to CPU 1, 12-byte body, 50 keep-alive VUs on the
fast transport), runs loadgen's real engine in four variants, interleaved round by round:

  records off   the hot path's records are dropped unread (the floor: no aggregation)
  sinks         records -> Store sinks (HDR trends), no time series
  sinks + ts    ... plus the per-second time series (what `loadgen run` does)
  + checks/tags ... plus a check and a custom tag per request in the scenario

The table shows the median requests/s and each variant's ratio to "records off"; the
design budget is >= 0.70 of the bare transport's throughput. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import GEN_CPU, INSTALL_HINT, Nginx, free_port, which  # noqa: E402

from loadgen import ConstantVUs, Scenario  # noqa: E402
from loadgen.clock import RealClock  # noqa: E402
from loadgen.execution.engine import Engine, Hooks, ScenarioSpec  # noqa: E402
from loadgen.execution.runtime import RunContext  # noqa: E402
from loadgen.metrics.ingest import Store  # noqa: E402
from loadgen.metrics.registry import Recorder, Registry  # noqa: E402
from loadgen.metrics.timeseries import TimeSeries  # noqa: E402
from loadgen.net.fast import FastTransport  # noqa: E402


class Plain(Scenario):
    name = "plain"

    async def iteration(self, vu: Any) -> None:
        await vu.http.get("/")


class Checked(Scenario):
    name = "checked"

    async def iteration(self, vu: Any) -> None:
        r = await vu.http.get("/", tags={"flow": "bench"})
        vu.check(r, {"status is 200": lambda r: r.status == 200})


def variant(kind: str) -> tuple[type[Scenario], Callable[[Registry], Any]]:
    if kind == "records off":
        return Plain, lambda reg: None
    if kind == "sinks":
        return Plain, lambda reg: Store(reg).ingest
    if kind == "sinks + ts":
        return Plain, lambda reg: Store(reg, timeseries=TimeSeries()).ingest
    return Checked, lambda reg: Store(reg, timeseries=TimeSeries()).ingest


async def one(kind: str, url: str, vus: int, seconds: float) -> float:
    cls, make_ingest = variant(kind)
    reg, rec = Registry(), Recorder()
    ingest = make_ingest(reg)
    run = RunContext(RealClock(), reg, rec, FastTransport, env={})
    spec = ScenarioSpec(cls.name or "s", cls, ConstantVUs(vus=vus, duration=f"{seconds}s"),
                        base_url=url)
    engine = Engine(run, [spec], Hooks(ingest=ingest))
    await engine.execute()
    rt = engine.runtimes[0]
    return rt.completed / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--vus", type=int, default=50)
    a = ap.parse_args()
    nginx_bin = which("nginx")
    if nginx_bin is None:
        sys.exit(f"nginx not found ({INSTALL_HINT})")
    os.sched_setaffinity(0, {int(GEN_CPU)})
    import uvloop

    kinds = ["records off", "sinks", "sinks + ts", "+ checks/tags"]
    got: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        ng = Nginx(Path(tmp), free_port())
        ng.start(nginx_bin)
        try:
            for r in range(a.rounds):
                for k in kinds:
                    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                        got[k].append(runner.run(one(k, ng.url.rstrip("/"), a.vus, a.duration)))
                print(f"round {r + 1}/{a.rounds}: " + ", ".join(
                    f"{k} {got[k][-1]:,.0f}" for k in kinds), file=sys.stderr)
        finally:
            ng.stop()
    base = statistics.median(got["records off"])
    print(f"\n{a.vus} VUs, GET 12 B from nginx, {a.duration:g} s x {a.rounds} rounds, "
          f"generator on CPU {GEN_CPU}\n")
    print("| variant | median req/s | min | max | vs records off |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for k in kinds:
        v = got[k]
        print(f"| {k} | {statistics.median(v):,.0f} | {min(v):,.0f} | {max(v):,.0f} | "
              f"{statistics.median(v) / base:.2f} |")


if __name__ == "__main__":
    main()
