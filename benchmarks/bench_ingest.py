"""How many hot-path records per second the metrics ingest sustains (not a test).

    .venv/bin/python benchmarks/bench_ingest.py [--records 200000] [--repeats 5]
    .venv/bin/python benchmarks/bench_ingest.py --accuracy   # TrendSink error and memory

HTTP records with 10 distinct tag sets, 2 threshold sub-metrics (plus k6's automatic
`http_req_duration{expected_response:true}`), fed in batches as the engine's ~50 ms loop
would. Compared in the same run with the naive way: expanding each record and calling
hdrh's pure-Python `record_value` per sample. Prints medians over the repeats.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from hdrh.histogram import HdrHistogram

from loadgen.metrics.histogram import TrendSink
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import MetricType, SubMetric, TagSet, tagset
from loadgen.metrics.registry import HTTP_TIMING_METRICS, Recorder, Registry
from loadgen.metrics.timeseries import TimeSeries

Records = list[tuple[object, ...]]


def make_tags() -> list[TagSet]:
    out = []
    for i in range(5):
        for status in ("200", "404"):
            url = f"http://127.0.0.1:8080/api/{i}"
            out.append(tagset(
                expected_response="true" if status == "200" else "false", group="",
                method="GET", name=url, proto="HTTP/1.1", scenario=f"s{i % 2}",
                status=status, url=url))
    return out


def make_batches(n: int, batch: int, with_iterations: bool, reg: Registry) -> list[Records]:
    rng = random.Random(1)
    tags = make_tags()
    rec = Recorder()
    it, it_dur = reg["iterations"], reg["iteration_duration"]
    sent, recv = reg["data_sent"], reg["data_received"]
    batches: list[Records] = []
    t = 0
    for i in range(n):
        t += 12_500  # 80k records/s of record time
        d = rng.lognormvariate(-1, 0.7)
        tg = tags[i % len(tags)]
        rec.http(t, tg, d, 0.001, 0.0, 0.0, 0.01, d - 0.02, 0.01, int(tg[-2][1] == "404"))
        if with_iterations:
            rec.sample(sent, 120.0, tg, t)
            rec.sample(recv, 250.0, tg, t)
            rec.sample(it_dur, d + 0.05, tg, t)
            rec.sample(it, 1.0, tg, t)
        if (i + 1) % batch == 0:
            batches.append(rec.drain())
    batches.append(rec.drain())
    return batches


def new_store(reg: Registry, with_ts: bool) -> Store:
    store = Store(reg, timeseries=TimeSeries() if with_ts else None)
    store.add_submetric("http_req_duration", "status:200", (("status", "200"),))
    store.add_submetric("http_reqs", "scenario:s1", (("scenario", "s1"),))
    return store


def run_store(batches: list[Records], reg: Registry, with_ts: bool) -> float:
    store = new_store(reg, with_ts)
    t0 = time.perf_counter()
    for b in batches:
        store.ingest(b)
    return time.perf_counter() - t0


def run_naive(batches: list[Records], reg: Registry) -> float:
    """Per-sample hdrh record_value into one histogram per metric and sub-metric."""
    subs = {
        "http_req_duration": [SubMetric(reg["http_req_duration"], "status:200",
                                        (("status", "200"),)),
                              SubMetric(reg["http_req_duration"], "expected_response:true",
                                        (("expected_response", "true"),))],
    }
    hists: dict[str, HdrHistogram] = {}
    counters: dict[str, float] = {}
    match: dict[tuple[TagSet, str], bool] = {}

    def hist(name: str) -> HdrHistogram:
        h = hists.get(name)
        if h is None:
            h = hists[name] = HdrHistogram(1, 3_600_000_000_000, 3)
        return h

    t0 = time.perf_counter()
    for b in batches:
        for r in b:
            tags = r[2] if r[0] == 1 else r[4]
            if r[0] == 1:
                samples = [("http_reqs", 1.0), *zip(HTTP_TIMING_METRICS, r[3:10], strict=True),
                           ("http_req_failed", r[10])]
            else:
                samples = [(r[2].name, r[3])]  # type: ignore[attr-defined]
            for name, v in samples:
                m = reg[name]
                if m.type is MetricType.TREND:
                    hist(name).record_value(int(v * 1e6))  # type: ignore[operator]
                    for sub in subs.get(name, ()):
                        key = (tags, sub.name)  # type: ignore[assignment]
                        ok = match.get(key)  # type: ignore[arg-type]
                        if ok is None:
                            ok = match[key] = sub.matches(tags)  # type: ignore[index,arg-type]
                        if ok:
                            hist(sub.name).record_value(int(v * 1e6))  # type: ignore[operator]
                else:
                    counters[name] = counters.get(name, 0.0) + float(v)  # type: ignore[arg-type]
                    if name == "http_reqs" and dict(tags).get("scenario") == "s1":  # type: ignore[arg-type]
                        counters["sub"] = counters.get("sub", 0.0) + 1
    return time.perf_counter() - t0


def median_rate(fn: Callable[[], float], n: int, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = [fn() for _ in range(repeats)]
    med = statistics.median(times)
    return n / med, med / n * 1e6


DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "uniform 1..1000": lambda r, n: r.uniform(1, 1000, n),
    "lognormal(0,1.5)": lambda r, n: r.lognormal(0, 1.5, n),
    "bimodal 2/300": lambda r, n: np.concatenate(
        [r.normal(2, 0.3, n // 2).clip(0.01), r.normal(300, 40, n - n // 2)]),
    "outliers x1000": lambda r, n: r.lognormal(3, 0.5, n) * np.where(
        r.random(n) < 0.002, 1000, 1),
    "loopback 0.05..2 ms": lambda r, n: r.uniform(0.05, 2.0, n),
    "100 us +-5": lambda r, n: r.normal(0.1, 0.005, n).clip(0.05),
    "seconds 1..60 s (ms)": lambda r, n: r.uniform(1000, 60_000, n),
    "signed normal(0,100)": lambda r, n: r.normal(0, 100, n),
}
PS = [0, 1, 10, 50, 90, 95, 99, 99.9, 99.99, 100]


def accuracy() -> None:
    """Max relative percentile error vs numpy 'linear', and memory over 5M values."""
    print(f"max |p - numpy| / |numpy| over p in {PS}")
    print(f"{'distribution':24} " + " ".join(f"{f'n={n:,}':>12}" for n in (10**3, 10**5, 10**6)))
    for name, gen in DISTRIBUTIONS.items():
        errs = []
        for n in (10**3, 10**5, 10**6):
            v = gen(np.random.default_rng(n), n)
            sink = TrendSink(exact_limit=0)  # force the histogram path even for n=1000
            for chunk in np.array_split(v, 10):
                sink.add_many(chunk)
            exp = np.percentile(v, PS, method="linear")
            got = np.array(sink.percentiles(PS))
            errs.append(float(np.max(np.abs(got - exp) / np.abs(exp))))
        print(f"{name:24} " + " ".join(f"{e:>12.2e}" for e in errs))
    r = np.random.default_rng(0)
    sink = TrendSink()
    tracemalloc.start()
    sink.add_many(r.lognormal(-1, 0.7, 50_000))
    gc.collect()
    m0, b0 = tracemalloc.get_traced_memory()[0], sink.nbytes
    for _ in range(99):
        sink.add_many(r.lognormal(-1, 0.7, 50_000))
    gc.collect()
    m1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"memory, lognormal ms, {sink.count:,} values: sink arrays {b0:,} B after 50k values,"
          f" {sink.nbytes:,} B after 5M; traced heap {m0:,} -> {m1:,} B")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--naive-records", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--accuracy", action="store_true", help="percentile error and memory")
    args = ap.parse_args()
    if args.accuracy:
        accuracy()
        return
    reg = Registry()
    naive_batches = make_batches(args.naive_records, 4000, False, reg)
    naive_rate, naive_us = median_rate(lambda: run_naive(naive_batches, reg),
                                       args.naive_records, args.repeats)
    rows = [("naive hdrh record_value loop", 4000, False, naive_rate, naive_us)]
    for batch in (500, 4000):
        for with_its in (False, True):
            batches = make_batches(args.records, batch, with_its, reg)
            for with_ts in (False, True):
                rate, us = median_rate(lambda b=batches, ts=with_ts: run_store(b, reg, ts),
                                       args.records, args.repeats)
                what = "Store.ingest" + (" +timeseries" if with_ts else "") + (
                    " +4 iteration samples" if with_its else "")
                rows.append((what, batch, with_its, rate, us))
    print(f"HTTP records, 10 tag sets, 2 sub-metrics (+expected_response); "
          f"median of {args.repeats} runs")
    print(f"{'path':44} {'batch':>6} {'records/s':>11} {'us/record':>10} {'vs naive':>9}")
    for what, batch, _, rate, us in rows:
        print(f"{what:44} {batch:>6} {rate:>11,.0f} {us:>10.3f} {rate / naive_rate:>8.1f}x")
    print("(+4 iteration samples: each HTTP record comes with data_sent, data_received, "
          "iteration_duration and iterations SAMPLE records; rates count HTTP records)")


if __name__ == "__main__":
    main()
