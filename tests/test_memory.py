"""Memory stays flat over a long, fast run: trends live on bounded HDR histograms (k6 keeps
every sample: its issue #763). 60+ s at the rate the loopback server sustains; RSS growth
after warm-up must stay under 10 MB."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from servers import serve

SCENARIO = """
    from loadgen import ConstantVUs, Scenario

    class Hammer(Scenario):
        executor = ConstantVUs(vus=20, duration="65s", graceful_stop="2s")
        thresholds = {"http_req_duration{status:200}": ["p(99)<5000"]}

        async def iteration(self, vu):
            r = await vu.http.get("/", name="root")
            vu.check(r, {"ok": lambda r: r.status == 200})
"""


@pytest.mark.slow
def test_rss_is_flat_over_a_minute_of_load(tmp_path, capsys):
    f = tmp_path / "hammer.py"
    f.write_text(textwrap.dedent(SCENARIO))
    export = tmp_path / "export.json"
    with serve() as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "loadgen", "run", "-q", str(f),
             f"--summary-export={export}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "BASE_URL": url})
        p = psutil.Process(proc.pid)
        samples: list[tuple[float, int]] = []
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 120:
            try:
                samples.append((time.monotonic() - t0, p.memory_info().rss))
            except psutil.NoSuchProcess:
                break
            time.sleep(1)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    warm = [rss for t, rss in samples if 10 <= t <= 12]
    late = [rss for t, rss in samples if t >= 60]
    assert warm and late, samples
    growth_mb = (max(late) - min(warm)) / 2**20
    import json

    reqs = json.loads(export.read_text())["metrics"]["http_reqs"]
    with capsys.disabled():
        print(f"\n[memory] {reqs['count']} requests at {reqs['rate']:.0f}/s over 65 s; RSS at "
              f"10 s {min(warm) / 2**20:.1f} MB, after 60 s {max(late) / 2**20:.1f} MB, "
              f"growth {growth_mb:.2f} MB")
    assert growth_mb < 10
