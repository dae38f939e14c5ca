"""Machine instructions per iteration of loadgen's HTTP path, counted, not timed (not a test).

    .venv/bin/python benchmarks/bench_instructions.py                  # this tree
    .venv/bin/python benchmarks/bench_instructions.py --baseline DIR   # beside another tree
    .venv/bin/python benchmarks/bench_instructions.py --no-ingest      # the path without ingest

Each run also counts this tree with LOADGEN_NO_EXTENSIONS=1 (its pure-Python path, what a
machine without a compiler runs) in a row of its own; --no-pure skips that row.

Why: on this project's shared 2-core machine the CPU time of one run swings by 10-30% from
one minute to the next (k6 measured 70 to 120 us per request within one hour), so a change
worth 2-5% cannot be seen in bench_http's timings without many rounds. Instructions are
nearly deterministic: valgrind's cachegrind counts every one the process executes.

What runs: `loadgen run` (the real CLI: engine, constant VUs, scenario coroutine, `vu.http`,
the fast transport and its connection protocol (its C path, or llhttp), a check, records,
ingest into the HDR sinks and the time series, the end-of-run summary) against a connection
whose transport answers each request with nginx's 12-byte response on the next loop turn.
No socket is
opened, so the kernel's share of a real request (a write and a read on loopback, ~40% of
its CPU in a `perf` profile) is not in the count: this measures the Python path, which is
what the project can change. The ingest ticker runs once a second instead of every 50 ms
(valgrind runs the process ~50x slower, so that keeps batches near their real size).

Each tree runs `--small` and `--large` iterations, `--repeats` times each; instructions per
iteration = (min at large - min at small) / (large - small), so start-up and the summary
drop out. The minimum is taken because the noise (timer-driven work, start-up) only adds.
Repeated runs of one tree agree within ~0.5%.

Requires valgrind (`apt-get install -y valgrind`); prints how to get it when missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

SCENARIO = """from loadgen import Scenario


class Bench(Scenario):
    async def iteration(self, vu):
        r = await vu.http.get("http://127.0.0.1:9/")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
"""

# what nginx answers the benchmark's GET (bench_http's target), byte for byte in shape
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 13:50:00 GMT\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n"
            b"hello world\n")


def child(scenario: str, iterations: int, ingest: bool) -> None:
    """The measured process: `loadgen run` with connections that never touch a socket."""
    import asyncio
    import time

    import loadgen.execution.engine as engine
    import loadgen.net.fast as fast
    import loadgen.net.fast_pool as fast_pool
    from loadgen.net.fast_conn import Conn

    class Answering:
        """A transport that answers every write with RESPONSE on the next loop turn."""

        def __init__(self, loop: asyncio.AbstractEventLoop, conn: Conn) -> None:
            self.loop, self.conn = loop, conn

        def write(self, data: bytes) -> None:
            self.loop.call_soon(self.conn.data_received, RESPONSE)

        def get_write_buffer_size(self) -> int:
            return 0

        def close(self) -> None:
            pass

        def abort(self) -> None:
            pass

        def get_extra_info(self, name: str, default: object = None) -> object:
            return default

    async def open_conn(loop: asyncio.AbstractEventLoop, h: object, ctx: object, *,
                        cap: int | None, keep_body: bool) -> object:
        out = fast_pool.Opened()
        out.t_connect = out.t_connected = time.perf_counter_ns()
        conn = Conn(loop, h.key, cap=cap, keep_body=keep_body)  # type: ignore[attr-defined]
        conn.transport = Answering(loop, conn)
        out.phase, out.conn = "done", conn
        return out

    fast_pool.open_conn = open_conn  # type: ignore[assignment]
    fast.open_conn = open_conn  # type: ignore[assignment]
    engine.INGEST_NS = 1_000_000_000  # type: ignore[attr-defined]
    if not ingest:
        from loadgen.results import pipeline
        pipeline.Results.ingest = lambda self, records: None  # type: ignore[method-assign]
    from loadgen.cli import main
    sys.argv = ["loadgen", "run", scenario, "-q", "--vus", "50", "--iterations",
                str(iterations), "--summary-export", os.environ.get("BENCH_EXPORT", os.devnull)]
    main()


def count(tree: Path | None, scenario: Path, iterations: int, ingest: bool,
          extra_env: dict[str, str]) -> int:
    """Instructions of one child run (the whole process, start-up included).

    OPENBLAS_NUM_THREADS=1: on this 2-CPU machine numpy's OpenBLAS starts a worker thread
    whose idle spinning valgrind counted as ~4% of a run (and not in proportion to the
    work); loadgen pinned to one CPU, as the timed benchmarks run it, has no such thread."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", **extra_env}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return valgrind_count([PY, __file__, "--child", str(scenario), str(iterations),
                           "1" if ingest else "0"], env, tempfile.gettempdir())


def valgrind_count(argv: list[str], env: dict[str, str], cwd: str | Path) -> int:
    """Instructions valgrind's cachegrind counts for one run of `argv` (bench_ws.py uses it
    too)."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           *argv]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, cwd=cwd)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode != 0 or m is None:
        raise RuntimeError(f"the counted run failed ({r.returncode}): {r.stderr[-1500:]}")
    return int(m.group(1).replace(",", ""))


def per_iteration(tree: Path | None, scenario: Path, small: int, large: int, repeats: int,
                  ingest: bool, extra_env: dict[str, str]) -> float:
    lo = min(count(tree, scenario, small, ingest, extra_env) for _ in range(repeats))
    hi = min(count(tree, scenario, large, ingest, extra_env) for _ in range(repeats))
    return (hi - lo) / (large - small)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another loadgen source tree (its root), counted the same way")
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=22000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-ingest", action="store_true",
                    help="drop the records unread (the path without ingest)")
    ap.add_argument("--no-pure", action="store_true",
                    help="skip this tree's pure-Python row (LOADGEN_NO_EXTENSIONS=1)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install -y valgrind", file=sys.stderr)
        return 2
    if args.large <= args.small:
        print("--large must be more than --small", file=sys.stderr)
        return 2
    ingest = not args.no_ingest
    trees: list[tuple[str, Path | None, dict[str, str]]] = [("this tree", None, {})]
    if not args.no_pure:  # the same tree without its C extension, for what that is worth
        trees.append(("this tree, pure Python", None, {"LOADGEN_NO_EXTENSIONS": "1"}))
    if args.baseline is not None:
        trees.insert(0, ("baseline", args.baseline.resolve(), {}))
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "bench_scenario.py"
        scenario.write_text(SCENARIO)
        got: dict[str, float] = {}
        for name, tree, extra_env in trees:
            got[name] = per_iteration(tree, scenario, args.small, args.large, args.repeats,
                                      ingest, extra_env)
            print(f"  {name}: {got[name]:,.0f} instructions per iteration", file=sys.stderr,
                  flush=True)
    base = got.get("baseline")
    print(f"\nGET + check per iteration, fast transport, no kernel ({'with' if ingest else 'no'}"
          f" ingest); (min of {args.repeats} at {args.large:,}) - (min of {args.repeats} at "
          f"{args.small:,}) iterations\n")
    print("| tree | instructions per iteration | vs baseline |")
    print("| --- | ---: | ---: |")
    for name, value in got.items():
        ratio = f"{value / base:.3f}" if base else "-"
        print(f"| {name} | {value:,.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
