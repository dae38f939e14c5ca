"""Does a long run stay flat? The message soak for minutes, per-minute lag and RSS (not a test).

    .venv/bin/python benchmarks/bench_soak.py [--duration 10m] [--rps 500]
                                              [--variants buckets,plain]

Per variant, a fresh reference service (`python -m loadgen.demo`, pinned to CPU 1) and
`loadgen run scenarios/message_soak.py --rps R --duration D` (pinned to CPU 0):

* `buckets`: with `-o json=FILE?points=buckets`; the per-minute `iteration_lag` (median of
  the per-second p95s, max of the per-second maxima) is read back from that file;
* `plain`: no output file (only the whole-run lag, from `--summary-export`).

Both sample the loadgen process's RSS with psutil every second. Acceptance, printed per
variant: lag p95 of the last minute within 2x the first minute's or within 1 ms of it
(buckets only; with the clock's timerfd wake-ups the per-minute p95 is 0.5-1.3 ms, where a
ratio measures the scheduler's mood: a 0.55 -> 1.11 ms pair failed a 2x-only rule in a run
whose minutes went 0.55, 0.71, 0.82, 1.34, 1.09, 0.53, 0.47, 0.45, 1.04, 1.11), and RSS
growth after the first minute (median of the last 10 s of load minus the median of seconds
60-70) under 10 MB. Why these two: a per-tick cost that grows with elapsed time shows up as
lag that climbs minute by minute, and per-interval data kept at full resolution as RSS that
climbs. Each minute also shows the share of CPU 0's time the hypervisor took (steal, from
/proc/stat): when the lag rule fails and that share is over 5% in its first or last minute,
the lag verdict is UNDECIDED (the benchmark cannot tell loadgen from its neighbours), not
FAIL. Exit code 0 when every variant passes, 1 when one fails, 2 when none fails but one is
undecided. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
HOST = "127.0.0.1"
LOADGEN_CPU, TARGET_CPU = "0", "1"
RSS_LIMIT_MB = 10.0
LAG_RATIO_LIMIT = 2.0
LAG_SLACK_MS = 1.0  # ...or this close to the first minute: below that the ratio is noise
#: above this share of CPU 0 taken by the hypervisor in the first or last minute, the lag
#: rule cannot tell loadgen from its neighbours: it says "undecided", not PASS or FAIL
STEAL_LIMIT = 0.05
SENDERS = "senders"  # message_soak's open-model scenario: the one with an iteration_lag


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def parse_duration_s(text: str) -> float:
    """`10m`, `2m30s`, `90s` or plain seconds."""
    total, num = 0.0, ""
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in "hms" and num:
            total += float(num) * {"h": 3600, "m": 60, "s": 1}[ch]
            num = ""
        else:
            raise SystemExit(f"bad duration {text!r}")
    return total + (float(num) if num else 0.0)


def start_target(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(pinned(TARGET_CPU, [PY, "-m", "loadgen.demo", "--port", str(port)]),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the demo service exited at start")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit("the demo service did not become healthy within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def run_variant(variant: str, duration: str, rps: float, workdir: Path) -> dict[str, object]:
    """One soak: RSS samples (seconds since start, MB), the buckets file, the summary."""
    port = free_port()
    target = start_target(port)
    buckets = workdir / f"{variant}-buckets.ndjson"
    export = workdir / f"{variant}-summary.json"
    argv = [str(Path(PY).parent / "loadgen"), "run", "scenarios/message_soak.py",
            "--rps", f"{rps:g}", "--duration", duration, "-q",
            "--summary-export", str(export)]
    if variant == "buckets":
        argv += ["-o", f"json={buckets}?points=buckets"]
    env = {**os.environ, "BASE_URL": f"http://{HOST}:{port}"}
    limit_s = parse_duration_s(duration) + 120
    rss: list[tuple[float, float]] = []
    cpu: list[tuple[float, int, int]] = []  # (seconds, stolen ticks, all ticks) of CPU 0
    try:
        gen = subprocess.Popen(pinned(LOADGEN_CPU, argv), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
        ps = psutil.Process(gen.pid)  # taskset execs: this is loadgen itself
        t0 = time.monotonic()
        while gen.poll() is None:
            if time.monotonic() - t0 > limit_s:
                os.killpg(gen.pid, signal.SIGKILL)
                break
            try:
                rss.append((time.monotonic() - t0, ps.memory_info().rss / 2**20))
            except psutil.Error:
                break
            ticks = cpu_ticks(LOADGEN_CPU)
            if ticks is not None:
                cpu.append((time.monotonic() - t0, *ticks))
            time.sleep(1.0)
        _, err = gen.communicate(timeout=30)
    finally:
        stop(target)
    return {"variant": variant, "rc": gen.returncode, "rss": rss, "cpu": cpu,
            "stderr": err.decode(errors="replace")[-2000:],
            "buckets": buckets if buckets.exists() else None,
            "summary": json.loads(export.read_text()) if export.exists() else None}


def cpu_ticks(cpu: str) -> tuple[int, int] | None:
    """(stolen, all) ticks of one CPU so far, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{cpu} "):
                    fields = [int(v) for v in line.split()[1:]]
                    return (fields[7] if len(fields) > 7 else 0), sum(fields)
    except OSError:
        return None
    return None


def stolen_per_minute(cpu: list[tuple[float, int, int]]) -> dict[int, float]:
    """minute -> the share of CPU 0's time the hypervisor took (steal) in it."""
    out: dict[int, float] = {}
    for m in sorted({int(t // 60) for t, _, _ in cpu}):
        inside = [c for c in cpu if int(c[0] // 60) == m]
        before = [c for c in cpu if int(c[0] // 60) < m]
        a = before[-1] if before else inside[0]
        b = inside[-1]
        if b[2] > a[2]:
            out[m] = (b[1] - a[1]) / (b[2] - a[2])
    return out


def lag_per_minute(path: Path) -> dict[int, tuple[float, float]]:
    """minute -> (median of the per-second iteration_lag p95s, max of the per-second max)."""
    p95s: dict[float, float] = {}
    maxes: dict[float, float] = {}
    first: float | None = None
    with path.open() as f:
        for line in f:
            if '"iteration_lag"' not in line or '"Point"' not in line:
                continue
            d = json.loads(line)["data"]
            stat = d["tags"].get("stat")
            if stat not in ("p95", "max") or d["tags"].get("scenario") != SENDERS:
                continue
            t = _unix(d["time"])
            first = t if first is None else min(first, t)
            (p95s if stat == "p95" else maxes)[t] = float(d["value"])
    out: dict[int, tuple[float, float]] = {}
    if first is None:
        return out
    minutes: dict[int, list[float]] = {}
    for t, v in p95s.items():
        minutes.setdefault(int((t - first) // 60), []).append(v)
    for m, vs in sorted(minutes.items()):
        mx = max((v for t, v in maxes.items() if int((t - first) // 60) == m), default=0.0)
        out[m] = (statistics.median(vs), mx)
    return out


def _unix(rfc3339: str) -> float:
    """`2026-12-02T04:23:05.123Z` -> unix seconds (UTC)."""
    base, _, frac = rfc3339.rstrip("Z").partition(".")
    st = time.strptime(base, "%Y-%m-%dT%H:%M:%S")
    return float(time.mktime(st) - time.timezone) + (float(f"0.{frac}") if frac else 0.0)


def rss_report(rss: list[tuple[float, float]], load_s: float) -> tuple[dict[int, float], float]:
    """(minute -> median RSS MB, growth MB: last 10 s of load minus seconds 60-70)."""
    minutes: dict[int, list[float]] = {}
    for t, mb in rss:
        if t <= load_s:
            minutes.setdefault(int(t // 60), []).append(mb)
    per_min = {m: statistics.median(v) for m, v in sorted(minutes.items())}
    base = [mb for t, mb in rss if 60 <= t < 70]
    end = [mb for t, mb in rss if load_s - 10 <= t <= load_s]
    growth = statistics.median(end) - statistics.median(base) if base and end else float("nan")
    return per_min, growth


def report(res: dict[str, object], load_s: float) -> str:
    """Prints the variant's table and verdicts; "pass", "fail" or "undecided" (the lag rule
    could not judge: the hypervisor took CPU 0 in the first or last minute)."""
    variant = res["variant"]
    rss, cpu = res["rss"], res["cpu"]
    assert isinstance(rss, list) and isinstance(cpu, list)
    per_min, growth = rss_report(rss, load_s)
    stolen = stolen_per_minute(cpu)
    lag = lag_per_minute(res["buckets"]) if isinstance(res["buckets"], Path) else {}
    print(f"\n## {variant}: exit code {res['rc']}")
    print("| minute | iteration_lag p95 ms (median of per-second) | lag max ms | RSS MB (median) "
          "| CPU 0 stolen |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for m in sorted(m for m in set(per_min) | set(lag) if m * 60 < load_s):
        p95, mx = lag.get(m, (float("nan"), float("nan")))
        st = f"{100 * stolen[m]:.0f}%" if m in stolen else "-"
        print(f"| {m + 1} | {p95:.2f} | {mx:.1f} | {per_min.get(m, float('nan')):.1f} | {st} |")
    summ = res["summary"]
    if isinstance(summ, dict):
        whole = summ.get("metrics", {}).get("iteration_lag", {})
        print(f"whole run iteration_lag: p(95) {whole.get('p(95)', float('nan')):.2f} ms, "
              f"max {whole.get('max', float('nan')):.1f} ms")
    ok = growth < RSS_LIMIT_MB
    print(f"RSS growth after the first minute: {growth:+.1f} MB (limit {RSS_LIMIT_MB:g}) "
          f"{'PASS' if ok else 'FAIL'}")
    undecided = False
    full = [m for m in lag if (m + 1) * 60 <= load_s]
    if len(full) >= 2:
        first, last = lag[min(full)][0], lag[max(full)][0]
        lag_ok = last <= max(LAG_RATIO_LIMIT * first, first + LAG_SLACK_MS)
        taken = max(stolen.get(min(full), 0.0), stolen.get(max(full), 0.0))
        undecided = not lag_ok and taken > STEAL_LIMIT
        verdict = (f"UNDECIDED (the hypervisor took {100 * taken:.0f}% of CPU 0 in the first "
                   f"or last minute, over {100 * STEAL_LIMIT:g}%: run it again in a calm hour)"
                   if undecided else "PASS" if lag_ok else "FAIL")
        print(f"lag p95 last full minute {last:.2f} ms vs first {first:.2f} ms "
              f"(limit {LAG_RATIO_LIMIT:g}x or +{LAG_SLACK_MS:g} ms) {verdict}")
        xs = sorted(full)
        slope = statistics.linear_regression(xs, [lag[m][0] for m in xs]).slope
        print(f"lag p95 trend over the full minutes: {slope:+.3f} ms per minute")
        ok = ok and (lag_ok or undecided)
    if res["rc"] not in (0, 99):
        print(f"loadgen failed: {res['stderr']}")
        ok = False
    return "fail" if not ok else "undecided" if undecided else "pass"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="10m")
    ap.add_argument("--rps", type=float, default=500)
    ap.add_argument("--variants", default="buckets,plain")
    ap.add_argument("--keep", help="a directory to keep the result files in (default: none)")
    args = ap.parse_args()
    load_s = parse_duration_s(args.duration)
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bench_soak") as tmp_dir:
        tmp = args.keep or tmp_dir
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for variant in args.variants.split(","):
            if variant not in ("buckets", "plain"):
                raise SystemExit(f"unknown variant {variant!r} (buckets, plain)")
            print(f"running {variant}: {args.duration} at {args.rps:g}/s ...", file=sys.stderr)
            res = run_variant(variant, args.duration, args.rps, Path(tmp))
            verdicts.append(report(res, load_s))
    if "fail" in verdicts:
        print("\nacceptance: FAIL")
        return 1
    if "undecided" in verdicts:
        print("\nacceptance: UNDECIDED (RSS held; lag not judged: CPU 0 was stolen)")
        return 2
    print("\nacceptance: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
