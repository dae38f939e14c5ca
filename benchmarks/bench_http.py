"""Side by side on one core: loadgen's HTTP path against wrk, hey, k6 and Locust.

    .venv/bin/python benchmarks/bench_http.py                 # everything, ~6 min
    .venv/bin/python benchmarks/bench_http.py --duration 5 --rounds 3 --skip-memory

Closed model: every generator runs the same workload (N keep-alive connections / VUs doing
GET of a 12-byte body from nginx, for D seconds), pinned to CPU 0 with taskset, nginx pinned
to CPU 1; rounds are interleaved (wrk, hey, k6, ..., then again) so drifting background load
hits every peer alike, and the table shows the median, min and max of the rounds, and each
tool's CPU per request (user+sys of the generator process from wait4, start-up included,
over the requests it completed; median of the rounds) beside k6's, and the running CPU per
request (a --short run's cost taken out: what a long test pays per request). The `-https` peers run
the same workload over TLS keep-alive against nginx with a self-signed certificate made at
run time (verification off). loadgen
runs through its real CLI with a scenario that checks the status, so its metrics, tags and
checks are all on (k6 runs the same check). The `py-floor-*` peers (_floor.py) are a bare
uvloop + httptools client, callback-driven or one awaited future per request: the floor any
Python asyncio client pays here, so loadgen's row minus theirs is what its engine costs.

Open model: loadgen fast at a fixed arrival rate (--rps): achieved rate, dropped
iterations and iteration_lag p99 (how late iterations started), beside k6's
constant-arrival-rate at the same rate.

Memory: peak RSS with 1,000 and 10,000 idle VUs (a sleep(1) loop), loadgen vs k6, and the
marginal cost per VU between the two.

Missing tools are skipped with a line saying how to install them. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import (  # noqa: E402
    GEN_CPU,
    IDLE_SCENARIO,
    INSTALL_HINT,
    K6_ENV,
    K6_IDLE,
    PEERS,
    VENV_BIN,
    Measured,
    Nginx,
    Peer,
    baseline_peers,
    free_port,
    loadgen_cmd,
    loadgen_export,
    pinned,
    run,
    which,
)


def closed_model(peers: list[Peer], nginx: Nginx, conns: int, seconds: int, rounds: int,
                 tmp: Path, short: int = 0) -> dict[str, list[Measured]]:
    """Interleaved rounds of every peer. With `short` > 0 each peer also makes a run of
    `short` seconds in the same round, so the table can take its fixed cost (start-up,
    connects, the end-of-run summary) out: the running cost a long test pays per request."""
    results: dict[str, list[Measured]] = {p.name: [] for p in peers}
    for rnd in range(rounds):
        for peer in peers:
            url = nginx.https_url if peer.tls else nginx.url
            assert url is not None
            try:
                got = peer.measure(url, conns, seconds, tmp)
                if short:
                    time.sleep(1)
                    got.short = peer.measure(url, conns, short, tmp)
            except Exception as e:  # noqa: BLE001 - one broken peer must not end the bench
                print(f"  round {rnd + 1}: {peer.name} failed: {e}", file=sys.stderr)
                continue
            results[peer.name].append(got)
            running = (f"{got.running_us_per_request:>7.1f} running"
                       if got.short is not None else "")
            print(f"  round {rnd + 1}/{rounds}: {peer.name:<18} {got.rps:>10,.0f} req/s "
                  f"{got.cpu_us_per_request:>7.1f} CPU us/req {running}", file=sys.stderr,
                  flush=True)
            time.sleep(1)  # let TIME_WAIT and the target settle between peers
    return results


def _paired(tool: list[Measured], k6: list[Measured]) -> float | None:
    """The median over rounds of k6's CPU per request over the tool's in the same round.

    On a shared machine the speed drifts from one minute to the next (k6 measured 70 to 120
    us per request in one hour here), and a ratio of two medians taken from different rounds
    inherits that drift; the runs of one round are seconds apart, so their ratio mostly
    does not. None when either lacks a round (a failed run would misalign the pairs)."""
    if len(tool) != len(k6) or not tool:
        return None
    return statistics.median(k.cpu_us_per_request / t.cpu_us_per_request
                             for t, k in zip(tool, k6, strict=True))


def closed_table(results: dict[str, list[Measured]]) -> str:
    """Medians over rounds; CPU us per request is the tool's user+sys CPU (start-up included,
    as a user pays it) over the requests it completed; "per core x k6" is k6's CPU per
    request over the tool's (how many times k6's rate one core gives it), "paired" the same
    ratio taken within each round, then the median (robust to drift between rounds).
    "running" takes the fixed cost out (the long run minus the short one). HTTPS rows
    compare with k6-https."""
    med = {k: statistics.median(m.rps for m in v) for k, v in results.items() if v}
    cpu = {k: statistics.median(m.cpu_us_per_request for m in v)
           for k, v in results.items() if v}
    run_cpu = {k: statistics.median(m.running_us_per_request for m in v)
               for k, v in results.items() if v and all(m.short is not None for m in v)}
    wrkm = med.get("wrk")
    lines = ["| generator | median req/s | min | max | x k6 | x wrk | CPU us/req | "
             "per core x k6 | paired x k6 | running CPU us/req | running x k6 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, values in results.items():
        if not values:
            lines.append(f"| {name} | skipped | | | | | | | | | |")
            continue
        ref = "k6-https" if name.endswith("-https") else "k6"
        m, c = med[name], cpu[name]
        k6m, k6c = med.get(ref), cpu.get(ref)
        x_k6 = f"{m / k6m:.2f}" if k6m else "-"
        x_wrk = f"{m / wrkm:.2f}" if wrkm and not name.endswith("-https") else "-"
        c_k6 = f"{k6c / c:.2f}" if k6c else "-"
        r, k6r = run_cpu.get(name), run_cpu.get(ref)
        r_s = f"{r:.1f}" if r is not None else "-"
        r_k6 = f"{k6r / r:.2f}" if r and k6r else "-"
        rps = [v.rps for v in values]
        paired = _paired(values, results.get(ref, []))
        p_k6 = f"{paired:.2f}" if paired is not None else "-"
        lines.append(f"| {name} | {m:,.0f} | {min(rps):,.0f} | {max(rps):,.0f} | "
                     f"{x_k6} | {x_wrk} | {c:.1f} | {c_k6} | {p_k6} | {r_s} | {r_k6} |")
    return "\n".join(lines)


K6_OPEN = """import http from 'k6/http';
import {{ check }} from 'k6';
export const options = {{ scenarios: {{ open: {{ executor: 'constant-arrival-rate',
  rate: {rate}, timeUnit: '1s', duration: '{seconds}s', preAllocatedVUs: {vus},
  maxVUs: {vus} }} }} }};
export default function () {{
  const r = http.get('{url}');
  check(r, {{ 'status is 200': (r) => r.status === 200 }});
}}
"""


def _cpu_ticks(cpu: str) -> tuple[int, int]:
    """(steal, all) jiffies of one CPU from /proc/stat; (0, 0) where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{cpu} "):
                    v = [int(x) for x in line.split()[1:]]
                    return (v[7] if len(v) > 7 else 0), sum(v)
    except OSError:
        pass
    return 0, 0


def _steal_since(before: tuple[int, int]) -> str:
    """The share of the generator CPU's time the hypervisor took since `before` (a vCPU that
    is not running: lag no generator can avoid)."""
    steal, total = _cpu_ticks(GEN_CPU)
    return f"{100 * (steal - before[0]) / (total - before[1]):.0f}%" if total > before[1] else "-"


def _open_loadgen(name: str, url: str, rate: int, seconds: int, max_vus: int, tmp: Path,
                  bin_dir: Path) -> tuple[str, float]:
    """One loadgen open-model run: its table row and its iteration_lag p99 (nan: failed)."""
    before = _cpu_ticks(GEN_CPU)
    try:
        data, ran = loadgen_export(tmp, "open", url,
                                   ["--rps", str(rate), "--duration", f"{seconds}s",
                                    "--max-vus", str(max_vus)], timeout=seconds + 60,
                                   bin_dir=bin_dir)
    except Exception as e:  # noqa: BLE001
        return f"| {name} | {rate:,} | failed: {e} | | | | | |", float("nan")
    m = data["metrics"]
    assert isinstance(m, dict)
    dropped = m.get("dropped_iterations", {}).get("count", 0)
    lag = m.get("iteration_lag", {})
    p99 = float(lag.get("p(99)", float("nan")))
    dur = m["http_req_duration"].get("p(99)", float("nan"))
    per = ran.cpu_s / m["http_reqs"]["count"] * 1e6
    return (f"| {name} | {rate:,} | {m['http_reqs']['rate']:,.0f} | {dropped:,.0f} | "
            f"{lag.get('med', float('nan')):.2f} / {p99:.2f} ms | {dur:.2f} ms | {per:.1f} | "
            f"{_steal_since(before)} |"), p99


def open_model(url: str, rate: int, seconds: int, max_vus: int, tmp: Path, rounds: int,
               baseline: Path | None) -> str:
    """Each round runs loadgen (and a baseline venv's loadgen, when given) then k6 at the
    same arrival rate; one row per run, then the median lag p99 of loadgen's runs: one
    run's p99 is at the mercy of a few stolen tens of milliseconds (the steal column)."""
    rows = ["| generator | target rate | achieved req/s | dropped | iteration_lag median / p99 "
            "| http_req_duration p99 | CPU us/req | CPU 0 stolen |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ours = [("loadgen-fast", VENV_BIN)]
    if baseline is not None:
        ours.append(("baseline-fast", baseline / "bin"))
    p99s: dict[str, list[float]] = {name: [] for name, _ in ours}
    k6 = which("k6")
    for r in range(rounds):
        for name, bin_dir in ours:
            row, p99 = _open_loadgen(name, url, rate, seconds, max_vus, tmp, bin_dir)
            rows.append(row)
            p99s[name].append(p99)
            print(f"  open round {r + 1}/{rounds}: {row}", file=sys.stderr, flush=True)
        if k6:
            rows.append(_open_k6(k6, url, rate, seconds, max_vus, tmp))
    for name, values in p99s.items():
        ok = [v for v in values if v == v]
        if ok:
            rows.append(f"\n{name}: iteration_lag p99 median of {len(ok)} runs "
                        f"**{statistics.median(ok):.2f} ms** (runs: "
                        f"{', '.join(f'{v:.2f}' for v in values)})")
    return "\n".join(rows)


def _open_k6(k6: str, url: str, rate: int, seconds: int, max_vus: int, tmp: Path) -> str:
    script = tmp / "k6_open.js"
    script.write_text(K6_OPEN.format(rate=rate, seconds=seconds, vus=max_vus, url=url))
    export = tmp / "k6_open.json"
    export.unlink(missing_ok=True)
    before = _cpu_ticks(GEN_CPU)
    r = run(pinned(GEN_CPU, [k6, "run", "-q", "--summary-export", str(export),
                             "--summary-trend-stats", "avg,p(99)", str(script)]),
            timeout=seconds + 120, env=K6_ENV)
    if not export.exists():
        return f"| k6 | {rate:,} | failed ({r.rc}) | | | | | |"
    m = json.loads(export.read_text())["metrics"]
    dropped = m.get("dropped_iterations", {}).get("count", 0)
    per = r.cpu_s / m["http_reqs"]["count"] * 1e6
    return (f"| k6 | {rate:,} | {m['http_reqs']['rate']:,.0f} | {dropped:,.0f} | "
            f"(k6 has none) | {m['http_req_duration']['p(99)']:.2f} ms | {per:.1f} | "
            f"{_steal_since(before)} |")


def memory(counts: list[int], seconds: int, tmp: Path, k6_max: int) -> str:
    """Peak RSS of loadgen and k6 running N VUs that only sleep(1) in a loop (k6 only up to
    k6_max VUs: at ~117 KB per VU, 100,000 of its VUs need ~11 GB)."""
    idle = tmp / "idle.py"
    idle.write_text(IDLE_SCENARIO)
    k6_script = tmp / "k6_idle.js"
    k6_script.write_text(K6_IDLE)
    rss: dict[str, dict[int, int]] = {"loadgen": {}, "k6": {}}
    for n in counts:
        r = run(loadgen_cmd(idle, "--vus", str(n), "--duration", f"{seconds}s", "--no-summary"),
                timeout=seconds + 240)
        if r.rc == 0:
            rss["loadgen"][n] = r.maxrss_kb
        else:
            print(f"  loadgen {n} VUs failed ({r.rc}): {r.err[-500:]}", file=sys.stderr)
        k6 = which("k6")
        if k6 and n <= k6_max:
            r = run([k6, "run", "-q", "--vus", str(n), "--duration", f"{seconds}s",
                     "--no-summary", str(k6_script)], timeout=seconds + 600,
                    env={"K6_NO_USAGE_REPORT": "true"})
            if r.rc == 0:
                rss["k6"][n] = r.maxrss_kb
            else:
                print(f"  k6 {n} VUs failed ({r.rc}): {r.err[-500:]}", file=sys.stderr)
    lines = ["| generator | " + " | ".join(f"{n:,} VUs peak RSS" for n in counts)
             + " | KB per extra VU |", "| --- |" + " ---: |" * (len(counts) + 1)]
    for name, by_n in rss.items():
        cells = [f"{by_n[n] / 1024:,.0f} MB" if n in by_n else "-" for n in counts]
        lo, hi = counts[0], counts[-1]
        per = (f"{(by_n[hi] - by_n[lo]) / (hi - lo):.1f}" if lo in by_n and hi in by_n
               and hi > lo else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {per} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per closed-model run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--short", type=int, default=2,
                    help="seconds of the extra run per peer and round that takes the fixed "
                         "cost out of the running CPU per request (0: no extra run)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--peers", default=",".join(p.name for p in PEERS),
                    help="comma-separated subset of: " + ", ".join(p.name for p in PEERS))
    ap.add_argument("--rps", type=int, default=20000, help="open-model arrival rate")
    ap.add_argument("--open-duration", type=int, default=10)
    ap.add_argument("--open-max-vus", type=int, default=200)
    ap.add_argument("--open-rounds", type=int, default=3,
                    help="open-model runs per generator (the table gives the median lag p99)")
    ap.add_argument("--memory-vus", default="1000,10000")
    ap.add_argument("--memory-duration", type=int, default=10)
    ap.add_argument("--memory-k6-max", type=int, default=10000,
                    help="largest VU count k6 is run with (loadgen runs every count)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a virtualenv with another loadgen (e.g. main's .venv): adds "
                    "baseline-fast and baseline-fast-https to the interleaved rounds")
    ap.add_argument("--skip-closed", action="store_true")
    ap.add_argument("--skip-open-model", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()

    nginx_bin = which("nginx")
    if nginx_bin is None:
        print(f"nginx is not installed; {INSTALL_HINT}", file=sys.stderr)
        return 2
    wanted = set(args.peers.split(","))
    peers: list[Peer] = []
    candidates = PEERS + (baseline_peers(args.baseline) if args.baseline else [])
    if args.baseline:
        wanted |= {"baseline-fast", "baseline-fast-https"}
    for p in candidates:
        if p.name not in wanted:
            continue
        if which(p.tool) is None:
            print(f"skipping {p.name}: {p.tool} not found ({p.hint})", file=sys.stderr)
            continue
        peers.append(p)

    with tempfile.TemporaryDirectory(prefix="bench_http_") as d:
        tmp = Path(d)
        nginx = Nginx(tmp, free_port(),
                      free_port() if any(p.tls for p in peers) else None)
        nginx.start(nginx_bin)
        try:
            print(f"# bench_http: {os.cpu_count()} CPUs, generators on CPU {GEN_CPU}, nginx on "
                  f"the other; {args.connections} connections, {args.duration}s x "
                  f"{args.rounds} rounds\n", flush=True)
            if not args.skip_closed and peers:
                res = closed_model(peers, nginx, args.connections, args.duration,
                                   args.rounds, tmp, args.short)
                print("## Closed model (GET 12 B, keep-alive, one core)\n")
                print(closed_table(res), "\n", flush=True)
            if not args.skip_open_model:
                print(f"## Open model ({args.rps:,}/s for {args.open_duration}s, "
                      f"max {args.open_max_vus} VUs)\n")
                print(open_model(nginx.url, args.rps, args.open_duration, args.open_max_vus,
                                 tmp, args.open_rounds, args.baseline), "\n", flush=True)
        finally:
            nginx.stop()
        if not args.skip_memory:
            counts = [int(n) for n in args.memory_vus.split(",")]
            print(f"## Memory (idle VUs in a sleep(1) loop, {args.memory_duration}s)\n")
            print(memory(counts, args.memory_duration, tmp, args.memory_k6_max), "\n",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
