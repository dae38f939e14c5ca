"""What `--out prometheus=` (and the live progress's figures) add to ingest, per record: the
same HTTP record batches ingested into a store alone, with the live Prometheus families and
with the progress's per-scenario figures (no server: the cost measured is the feed, which
runs on the generator's loop; scrapes run in their own thread).

    .venv/bin/python benchmarks/bench_prometheus.py [--records 200000] [--batch 500]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from loadgen.metrics.ingest import Store
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.live import LiveFigures
from loadgen.results.prom_metrics import LiveMetrics


def batches(registry: Registry, n: int, size: int, names: int) -> list[list[tuple[object, ...]]]:
    rnd = random.Random(1)
    rec = Recorder()
    tags = [tagset(scenario="s", name=f"n{i}", method="GET", status=str(s), url=f"/n{i}",
                   expected_response="true") for i in range(names) for s in (200, 503)]
    checks = registry["checks"]
    ctags = [tagset(scenario="s", check=f"c{i}") for i in range(4)]
    for i in range(n):
        t = tags[rnd.randrange(len(tags))]
        d = rnd.expovariate(1 / 5.0)
        rec.http(i, t, d, 0.0, 0.0, 0.0, 0.01, d, 0.01, int(dict(t)["status"] != "200"))
        rec.sample(checks, 1.0, ctags[i % 4], i)
    recs = rec.drain()
    return [recs[i:i + size] for i in range(0, len(recs), size)]


def run(variant: str, data: list[list[tuple[object, ...]]], registry: Registry) -> float:
    store = Store(registry)
    if variant == "prometheus":
        live = LiveMetrics(registry, list(registry.metrics))
        store.add_observer(live.metrics, live)
    elif variant == "progress":
        LiveFigures(store)
    t0 = time.process_time()  # CPU time: other processes on the core do not count
    for b in data:
        store.ingest(b)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000, help="HTTP records (each with a check)")
    ap.add_argument("--batch", type=int, default=500, help="records per ingest batch (x2: checks)")
    ap.add_argument("--names", type=int, default=20, help="request names (x2 statuses)")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    registry = Registry()
    data = batches(registry, a.records, 2 * a.batch, a.names)
    times: dict[str, list[float]] = {"none": [], "prometheus": [], "progress": []}
    for _ in range(a.rounds):  # interleaved: the machine's noise hits every variant alike
        for variant, got in times.items():
            got.append(run(variant, data, registry))
    n = a.records
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} HTTP records (+{n} check samples), batches of {2 * a.batch}, "
          f"{2 * a.names} label sets, median of {a.rounds} rounds")
    print(f"ingest alone:                  {med['none'] / n * 1e6:.3f} µs per HTTP record")
    for k, what in (("prometheus", "+ -o prometheus= families"),
                    ("progress", "+ the progress's live figures")):
        extra = med[k] - med["none"]
        print(f"{what:<30} {extra / n * 1e6:+.3f} µs per HTTP record "
              f"({extra / med['none'] * 100:+.0f}%)")


if __name__ == "__main__":
    main()
