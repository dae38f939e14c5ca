"""`make demo`: the README's first command, end to end on one machine.

Starts the reference service on 127.0.0.1 (port 8000, or a free one when 8000 is taken),
waits for /healthz, runs the message soak against it at 500 messages/s for 30 s with its
thresholds (live progress, then the k6-style summary and the threshold verdicts, and the
HTML report in demo-report.html, whose path it prints), stops the
service and exits with the run's exit code, so `make demo` fails exactly when a threshold
does.

Why a Python script rather than shell: it must work from a fresh clone on any machine with
Python 3.11+ (no curl, no lsof), pick a port safely, and always stop the service, whatever
happens to the run (Ctrl-C included: loadgen itself handles the first Ctrl-C, prints the
summary and exits 105; this script only waits for it and then cleans up).

    python -m loadgen.demo.run_demo [extra `loadgen run` flags, e.g. --duration 10s]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

HOST = "127.0.0.1"
PREFERRED_PORT = 8000
SCENARIO = "scenarios/message_soak.py"
THRESHOLDS = "thresholds/message_soak.yaml"
REPORT = "demo-report.html"  # the single-file HTML report, beside the Makefile
RUN_ARGS = ["--rps", "500", "--duration", "30s", "--thresholds", THRESHOLDS,
            "--report", REPORT]
STARTUP_TIMEOUT_S = 20.0


def pick_port() -> int:
    """8000 when nobody listens there, else any free loopback port."""
    for port in (PREFERRED_PORT, 0):
        with socket.socket() as s:
            # as the server binds (reuse_address): connections of an earlier run still in
            # TIME_WAIT do not make the port busy
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as r:  # noqa: S310
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    root = Path(__file__).resolve().parents[2]
    if not (root / SCENARIO).is_file():
        print(f"make demo: {SCENARIO} not found under {root}", file=sys.stderr)
        return 2
    port = pick_port()
    base_url = f"http://{HOST}:{port}"
    print(f"make demo: starting the reference service on {base_url}", flush=True)
    # its own session: the terminal's Ctrl-C goes to loadgen, which stops the run gracefully
    server = subprocess.Popen([sys.executable, "-m", "loadgen.demo", "--host", HOST,
                               "--port", str(port)], cwd=root, start_new_session=True)
    try:
        if not wait_healthy(base_url, server, STARTUP_TIMEOUT_S):
            print(f"make demo: the service did not answer {base_url}/healthz within "
                  f"{STARTUP_TIMEOUT_S:g} s", file=sys.stderr)
            return 1
        cmd = [sys.executable, "-m", "loadgen", "run", SCENARIO, *RUN_ARGS, *extra]
        print(f"make demo: BASE_URL={base_url} loadgen run {' '.join(cmd[4:])}", flush=True)
        run = subprocess.Popen(cmd, cwd=root, env={**os.environ, "BASE_URL": base_url})
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # loadgen reports, then exits
        try:
            code = run.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
        print(f"make demo: loadgen exited with {code}"
              f"{' (thresholds failed)' if code == 99 else ''}", flush=True)
        if (root / REPORT).is_file():
            print(f"make demo: the HTML report is {root / REPORT} (one file, opens offline)",
                  flush=True)
        return code
    finally:
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
