"""The HTML report's cost on a long run: build a synthetic results archive (default: a
30-minute soak, 500 req/s over 5 request names, HDR intervals as a long run writes them),
then time `loadgen merge` and `loadgen report` on it (wall, CPU, peak RSS) and print the
page's size. The report's own cost is the difference between the two.

    .venv/bin/python benchmarks/bench_report.py [--seconds 1800] [--names 5] [--rate 500]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.model import Contains, tagset
from loadgen.metrics.registry import Registry
from loadgen.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink
from loadgen.results.archive import ArchiveWriter, build_header
from loadgen.results.interval import UNIT_EXP, Interval


def synthetic_archive(path: Path, seconds: int, names: int, rate: int) -> None:
    rng = np.random.default_rng(1)
    registry = Registry()
    w = ArchiveWriter(str(path), build_header(script="soak.py", specs=[], thresholds={},
                                              registry=registry, tags={}, segment=None),
                      registry)
    w.start()
    each = rate // names
    for s in range(seconds):
        metrics: dict[tuple[str, tuple[tuple[str, str], ...]], Sink] = {}
        for i in range(names):
            tags = tagset({"name": f"/api/{i}", "scenario": "soak"})
            reqs, failed = CounterSink(), RateSink()
            reqs.add_many(np.ones(each))
            failed.add_many((rng.random(each) < 0.01).astype(float))
            dur = TrendSink(exact_limit=0, unit_exp=UNIT_EXP[Contains.TIME])
            dur.add_many(rng.lognormal(1.5 + i / 4, 0.5, each))
            metrics[("http_reqs", tags)] = reqs
            metrics[("http_req_failed", tags)] = failed
            metrics[("http_req_duration", tags)] = dur
        vus = GaugeSink()
        vus.add(50.0)
        metrics[("vus", tagset({}))] = vus
        w.interval(Interval(float(s), float(s + 1), metrics))
    w.end(seconds * 1_000_000_000, 0, "")


def timed(args: list[str]) -> tuple[float, float, float]:
    """Wall s, CPU s and peak RSS MB of one `loadgen` child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "loadgen", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024  # ru_maxrss: the largest child so far, in KB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=1800)
    ap.add_argument("--names", type=int, default=5)
    ap.add_argument("--rate", type=int, default=500)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        archive, page = Path(d) / "soak.ndjson", Path(d) / "soak.html"
        synthetic_archive(archive, a.seconds, a.names, a.rate)
        print(f"archive: {a.seconds} s, {a.names} names, {a.rate} req/s: "
              f"{archive.stat().st_size / 2**20:.1f} MB (load average {os.getloadavg()[0]:.1f})")
        for what, args in (("loadgen merge", ["merge", str(archive)]),
                           ("loadgen report", ["report", str(archive), "-o", str(page)])):
            wall, cpu, rss = timed(args)
            print(f"{what:15} wall {wall:5.1f} s  cpu {cpu:5.1f} s  peak RSS <= {rss:4.0f} MB")
        print(f"page: {page.stat().st_size / 2**20:.2f} MB")


if __name__ == "__main__":
    main()
