"""WebSocket echo throughput on one core: loadgen's `vu.ws` vs k6's `k6/ws` (not a test).

    .venv/bin/python benchmarks/bench_ws.py [--conns 1,10,50] [--duration 5] [--repeats 3]
                                            [--size 32] [--baseline DIR]

Each client keeps `conns` sockets, each in ping-pong (send a message, wait for its echo, send
the next) for `duration` seconds, against the same loopback echo server. The generator is
pinned to CPU 0 (`taskset -c 0`, k6 also with GOMAXPROCS=1), the server to CPU 1. The server
is a minimal RFC 6455 echo on a raw uvloop Protocol, several times faster than either client,
so the client is what is measured; its CPU share is printed to prove it (a server near 100%
would make the row meaningless). "per core" is messages per CPU-second, loadgen's over k6's
(k6's CPU us per message over loadgen's): the number to read on a shared machine, where the
msg/s of both swing with the neighbours' load. loadgen runs the real engine path (scenario,
executor, VU, `vu.ws` with its metrics), on uvloop like `loadgen run`. Medians over the
repeats. "running" is the CPU per message with each client's fixed cost (start-up,
connects, teardown: one extra SHORT run per client and row) taken out, what a long test pays.

`--instructions` counts instead of timing (valgrind's cachegrind, user space only: the
kernel's socket work is not in it): loadgen's client runs `--count-small` and
`--count-large` ping-pongs per connection over `--conns` (the first count) connections
against the same echo server; instructions per message = (min at large - min at small) /
(the messages between them), so start-up, connects and teardown drop out. It counts this
tree, this tree with LOADGEN_NO_EXTENSIONS=1 and, with --baseline, that tree; repeated
counts agree within ~0.5%, where CPU time on this shared machine swings 10-30%.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SHORT = 0.5  # seconds of the run that measures each client's fixed cost

# -- the echo server (runs pinned to CPU 1) --------------------------------------------


class Echo(asyncio.Protocol):
    """Frames in, the same frames out unmasked; handshake by hand, unmasking in C."""

    def __init__(self) -> None:
        from websockets.speedups import apply_mask

        self.apply_mask = apply_mask
        self.buf = bytearray()
        self.open = False
        self.t: Any = None

    def connection_made(self, transport: Any) -> None:
        self.t = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = next(line.split(b":", 1)[1].strip() for line in bytes(buf[:end]).split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.t.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            del buf[:end + 4]
            self.open = True
        out, pos, n = [], 0, len(buf)
        while n - pos >= 2:
            b1, b2 = buf[pos], buf[pos + 1]
            ln, hl = b2 & 0x7F, 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, hl = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, hl = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            mask = b2 & 0x80
            if n - pos < hl + (4 if mask else 0) + ln:
                break
            data_at = pos + hl + (4 if mask else 0)
            payload = bytes(buf[data_at:data_at + ln])
            if mask:
                payload = self.apply_mask(payload, bytes(buf[pos + hl:pos + hl + 4]))
            op = b1 & 0x0F
            head = (b1 if op != 9 else (b1 & 0xF0) | 0xA,)
            if op == 8:
                payload = payload[:2]
            size = (ln,) if ln < 126 else (126, *ln.to_bytes(2, "big")) if ln < 65536 else (
                127, *ln.to_bytes(8, "big"))
            out += (bytes(head + size), payload)
            pos = data_at + ln
            if op == 8:
                self.t.write(b"".join(out))
                self.t.close()
                return
        del buf[:pos]
        if out:
            self.t.write(b"".join(out))


async def serve(port_file: str) -> None:
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Echo, "127.0.0.1", 0, backlog=1024)
    with open(port_file, "w") as f:  # noqa: ASYNC230 - once, before any client exists
        f.write(str(srv.sockets[0].getsockname()[1]))
    async with srv:
        await asyncio.sleep(3600)  # the parent kills us long before


# -- the loadgen client (runs pinned to CPU 0) -------------------------------------------


async def loadgen_client(url: str, conns: int, duration: float, size: int) -> dict[str, float]:
    from loadgen import ConstantVUs, Scenario
    from loadgen.clock import RealClock
    from loadgen.execution.engine import Engine, Hooks, ScenarioSpec
    from loadgen.execution.runtime import RunContext
    from loadgen.metrics.model import SAMPLE
    from loadgen.metrics.registry import Recorder, Registry
    from loadgen.net.fast import FastTransport  # `loadgen run`'s default

    msg = "x" * size
    got = {"msgs": 0.0}

    class EchoLoop(Scenario):
        async def iteration(self, vu: Any) -> None:
            async with await vu.ws.connect(url) as s:
                while not vu.ws.stopping:
                    await s.send(msg)
                    await s.recv()

    def ingest(records: list[tuple[Any, ...]]) -> None:
        for r in records:
            if r[0] == SAMPLE and r[2].name == "ws_msgs_received":
                got["msgs"] += r[3]

    run = RunContext(RealClock(), Registry(), Recorder(), FastTransport)
    ex = ConstantVUs(vus=conns, duration=f"{duration}s")
    engine = Engine(run, [ScenarioSpec("echo", EchoLoop, ex)], Hooks(ingest=ingest))
    await engine.execute()
    return {"msgs": got["msgs"], "secs": duration}


async def counted_client(url: str, conns: int, n: int, size: int) -> None:
    """What --instructions counts: `conns` VUs, one iteration each of `n` ping-pongs."""
    from loadgen import PerVUIterations, Scenario
    from loadgen.clock import RealClock
    from loadgen.execution.engine import Engine, Hooks, ScenarioSpec
    from loadgen.execution.runtime import RunContext
    from loadgen.metrics.registry import Recorder, Registry
    from loadgen.net.fast import FastTransport

    msg = "x" * size

    class EchoN(Scenario):
        async def iteration(self, vu: Any) -> None:
            async with await vu.ws.connect(url) as s:
                for _ in range(n):
                    await s.send(msg)
                    await s.recv()

    run = RunContext(RealClock(), Registry(), Recorder(), FastTransport)
    ex = PerVUIterations(vus=conns, iterations=1, max_duration="3600s")
    await Engine(run, [ScenarioSpec("echo", EchoN, ex)], Hooks(ingest=lambda r: None)).execute()


def count_instructions(url: str, conns: int, n: int, size: int, env: dict[str, str]) -> int:
    from bench_instructions import valgrind_count  # beside this file

    return valgrind_count([PY, __file__, "--count-run", url, str(conns), str(n), str(size)],
                          {**os.environ, "OPENBLAS_NUM_THREADS": "1", **env}, ROOT)


def instructions(url: str, a: argparse.Namespace) -> None:
    conns = int(a.conns.split(",")[0])
    trees = [("this tree", {}), ("this tree, pure Python", {"LOADGEN_NO_EXTENSIONS": "1"})]
    if a.baseline:
        trees.insert(0, ("baseline", {"PYTHONPATH": a.baseline}))
    got = {}
    for name, env in trees:
        lo = min(count_instructions(url, conns, a.count_small, a.size, env)
                 for _ in range(a.repeats))
        hi = min(count_instructions(url, conns, a.count_large, a.size, env)
                 for _ in range(a.repeats))
        got[name] = (hi - lo) / (conns * (a.count_large - a.count_small))
        print(f"  {name}: {got[name]:,.0f} instructions per message", file=sys.stderr,
              flush=True)
    base = got.get("baseline")
    print(f"\nping-pong of {a.size}-byte text messages over {conns} connections, user space "
          f"only; (min of {a.repeats} at {a.count_large:,}) - (min of {a.repeats} at "
          f"{a.count_small:,}) messages per connection\n")
    print("| tree | instructions per message | vs baseline |")
    print("| --- | ---: | ---: |")
    for name, value in got.items():
        print(f"| {name} | {value:,.0f} | {f'{value / base:.3f}' if base else '-'} |")


K6_SCRIPT = """
import ws from 'k6/ws';
const CONNS = parseInt(__ENV.CONNS), DUR = parseFloat(__ENV.DUR) * 1000;
export const options = {scenarios: {echo: {executor: 'per-vu-iterations', vus: CONNS,
                                           iterations: 1, maxDuration: '120s'}}};
export default function () {
  const msg = 'x'.repeat(parseInt(__ENV.SIZE));
  ws.connect(__ENV.URL, {}, function (socket) {
    socket.on('open', () => socket.send(msg));
    socket.on('message', () => socket.send(msg));
    socket.setTimeout(() => socket.close(), DUR);
  });
}
"""


def k6_client(k6: str, url: str, conns: int, duration: float, size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script, export = Path(tmp) / "echo.js", Path(tmp) / "export.json"
        script.write_text(K6_SCRIPT)
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true", "GOMAXPROCS": "1"}
        subprocess.run(
            ["taskset", "-c", "0", k6, "run", "-q", f"--address=127.0.0.1:{free_port()}",
             f"--summary-export={export}", "-e", f"URL={url}", "-e", f"CONNS={conns}",
             "-e", f"DUR={duration}", "-e", f"SIZE={size}", str(script)],
            env=env, cwd=tmp, check=True, timeout=duration + 120, stdout=subprocess.DEVNULL)
        metrics = json.loads(export.read_text())["metrics"]
        return {"msgs": float(metrics["ws_msgs_received"]["count"]), "secs": duration}


# -- the driver --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(client: str, url: str, conns: int, duration: float, size: int, server_pid: int,
        k6: str | None, baseline: str | None = None) -> tuple[float, ...]:
    """(messages/s, client CPU share, server CPU share, client CPU us per message, client CPU
    seconds, messages) of one pinned run; client CPU is the whole process (start-up
    included, for both)."""
    before = os.times()
    s0, t0 = cpu_seconds(server_pid), time.perf_counter()
    if client == "k6":
        assert k6 is not None
        res = k6_client(k6, url, conns, duration, size)
    else:  # the baseline: another loadgen source tree ahead of the installed one
        env = {**os.environ, "PYTHONPATH": baseline} if client == "baseline" and baseline \
            else None
        out = subprocess.run(
            ["taskset", "-c", "0", PY, __file__, "--client-run", url, str(conns), str(duration),
             str(size)], check=True, timeout=duration + 120, capture_output=True, text=True,
            cwd=ROOT, env=env)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - t0
    after = os.times()
    client_cpu = (after.children_user + after.children_system
                  - before.children_user - before.children_system)
    return (res["msgs"] / res["secs"], client_cpu / wall, (cpu_seconds(server_pid) - s0) / wall,
            client_cpu / max(res["msgs"], 1) * 1e6, client_cpu, res["msgs"])


def marginal_us(short: tuple[float, ...], long: list[tuple[float, ...]]) -> float:
    """CPU us per message once running: the slope between a short run and the median long
    one, so the fixed cost (interpreter or binary start-up, connects, teardown) drops out."""
    cpu = statistics.median(x[4] for x in long)
    msgs = statistics.median(x[5] for x in long)
    return (cpu - short[4]) / max(msgs - short[5], 1) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", default="1,10,50")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--baseline", metavar="DIR",
                    help="also run the loadgen source tree in DIR (holding loadgen/, e.g. "
                         "`git archive main loadgen | tar -x -C DIR`), interleaved")
    ap.add_argument("--instructions", action="store_true",
                    help="count loadgen's instructions per message under valgrind instead")
    ap.add_argument("--count-small", type=int, default=100)
    ap.add_argument("--count-large", type=int, default=1100)
    ap.add_argument("--serve", metavar="PORT_FILE")
    ap.add_argument("--client-run", nargs=4, metavar=("URL", "CONNS", "DUR", "SIZE"))
    ap.add_argument("--count-run", nargs=4, metavar=("URL", "CONNS", "N", "SIZE"))
    a = ap.parse_args()
    if a.serve or a.client_run or a.count_run:
        import uvloop

        if a.serve:
            uvloop.run(serve(a.serve))
        elif a.count_run:
            url, conns, n, size = a.count_run
            uvloop.run(counted_client(url, int(conns), int(n), int(size)))
        else:
            url, conns, dur, size = a.client_run
            res = uvloop.run(loadgen_client(url, int(conns), float(dur), int(size)))
            print(json.dumps(res))
        return

    venv_k6 = Path(PY).parent / "k6"
    k6 = str(venv_k6) if venv_k6.exists() else shutil.which("k6")
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen(["taskset", "-c", "1", PY, __file__, "--serve", str(port_file)],
                                  cwd=ROOT)
        try:
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            url = f"ws://127.0.0.1:{port_file.read_text()}/echo"
            if a.instructions:
                if shutil.which("valgrind") is None:
                    sys.exit("valgrind is not installed: apt-get install -y valgrind")
                instructions(url, a)
                return
            print(f"echo server pid {server.pid} on {url}; {a.repeats} x {a.duration:g} s per "
                  f"cell, {a.size}-byte text messages, generator on CPU 0, server on CPU 1\n")
            print("| conns | loadgen msg/s | k6 msg/s | loadgen / k6 | loadgen CPU (us/msg) "
                  "| k6 CPU (us/msg) | per core: loadgen / k6 | running: loadgen / k6 us/msg "
                  "| server CPU (max) |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            clients = ["loadgen", *(["k6"] if k6 else []), *(["baseline"] if a.baseline else [])]
            base_rows = []
            for conns in (int(c) for c in a.conns.split(",")):
                cells: dict[str, list[tuple[float, ...]]] = {c: [] for c in clients}
                short = {c: one(c, url, conns, SHORT, a.size, server.pid, k6, a.baseline)
                         for c in clients}
                for _ in range(a.repeats):
                    for client in clients:
                        cells[client].append(one(client, url, conns, a.duration, a.size,
                                                 server.pid, k6, a.baseline))
                med = {c: [statistics.median(x[i] for x in v) for i in range(4)] if v else
                       [float("nan")] * 4 for c, v in cells.items()}
                run_us = {c: marginal_us(short[c], cells[c]) for c in clients}
                srv = max(x[2] for v in cells.values() for x in v)
                print(f"| {conns} | {med['loadgen'][0]:,.0f} | {med['k6'][0]:,.0f} "
                      f"| {med['loadgen'][0] / med['k6'][0]:.2f} "
                      f"| {med['loadgen'][1]:.0%} ({med['loadgen'][3]:.0f}) "
                      f"| {med['k6'][1]:.0%} ({med['k6'][3]:.0f}) "
                      f"| {med['k6'][3] / med['loadgen'][3]:.2f} "
                      f"| {run_us['loadgen']:.1f} / {run_us.get('k6', float('nan')):.1f} = "
                      f"{run_us.get('k6', float('nan')) / run_us['loadgen']:.2f} "
                      f"| {srv:.0%} |", flush=True)
                if a.baseline:
                    b = med["baseline"]
                    base_rows.append(
                        f"| {conns} | {b[0]:,.0f} | {b[1]:.0%} ({b[3]:.0f}) "
                        f"| {med['k6'][3] / b[3]:.2f} | {b[3] / med['loadgen'][3]:.2f} "
                        f"| {run_us['baseline']:.1f} |")
            if base_rows:
                print(f"\nbaseline {a.baseline}, in the same rounds:\n\n| conns | baseline msg/s "
                      "| baseline CPU (us/msg) | per core: baseline / k6 "
                      "| per core: loadgen / baseline | running: baseline us/msg |\n"
                      "| ---: | ---: | ---: | ---: | ---: | ---: |")
                print("\n".join(base_rows))
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
