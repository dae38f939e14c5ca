"""Run the real CLI as a child process and watch it: exit code, output, wall time and peak RSS.

Every hostile case asserts the same four things (the right code, a clear message and no
traceback, a bounded RSS, an end within duration + graceful stop + a margin), so they share
this runner. RSS is sampled with psutil every 20 ms, which is enough to see a body or a
decompression bomb grow: those take hundreds of milliseconds to reach a gigabyte.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import psutil


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    wall_s: float
    peak_rss_mb: float

    @property
    def text(self) -> str:
        return self.out + self.err

    def assert_clean(self) -> None:
        """No traceback anywhere: bad input and bad servers get a message, not a stack."""
        assert "Traceback" not in self.text, self.text[-4000:]

    def assert_ended(self, code: int, within_s: float, rss_mb: float) -> None:
        """The four things every case checks: its exit code, no traceback, a bounded RSS and
        an end in time."""
        assert self.code == code, self.text[-3000:]
        self.assert_clean()
        assert self.peak_rss_mb < rss_mb, self.peak_rss_mb
        assert self.wall_s < within_s, self.wall_s


def run_cli(*args: str, timeout: float = 60.0, env: dict[str, str] | None = None,
            cwd: str | None = None) -> CliRun:
    """`python -m loadgen ARGS`; kills the child (and fails) if it outlives `timeout`."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "loadgen", *args], stdout=out, stderr=err,
                                env=full_env, cwd=cwd)
        peak = 0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            if time.monotonic() - t0 > timeout:
                proc.kill()
                proc.wait()
                raise AssertionError(f"loadgen {' '.join(args)} still running after {timeout}s")
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            time.sleep(0.02)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return CliRun(proc.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), wall, peak / 2**20)
