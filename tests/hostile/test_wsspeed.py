"""The picows data path against the real CLI: a message that never ends, in fragments each
small enough to pass picows' own frame cap, is stopped at `max_size` by loadgen (1009), the
run ends on time, says why, fails its threshold (exit 99) and stays small."""

from __future__ import annotations

import json
from pathlib import Path

import wsspeed_peers
from hostile_run import run_cli
from ws_servers import serving

SCENARIO = '''
from loadgen import ConstantVUs, Scenario


class Fragments(Scenario):
    executor = ConstantVUs(vus=1, duration="1s", graceful_stop="1s")
    thresholds = {"ws_errors": ["count<1"]}

    async def iteration(self, vu):
        async with await vu.ws.connect(vu.env["WS_URL"], timeout=2.0) as ws:
            await ws.recv(timeout=5)
'''

DURATION_S, GRACEFUL_S, CLOSE_S, STARTUP_S = 1.0, 1.0, 1.0, 6.0
MAX_RSS_MB = 200  # the 32 MiB cap joined once, not the peer's 96 MiB (twice, when joined)


def test_an_endless_fragmented_message_stops_at_max_size(tmp_path: Path) -> None:
    script = tmp_path / "fragments.py"
    script.write_text(SCENARIO)
    out = tmp_path / "out.ndjson"
    with serving(wsspeed_peers.endless_fragments) as server:
        r = run_cli("run", str(script), "-q", "--out", f"json={out}",
                    env={"WS_URL": server.url}, timeout=60)
        assert server.connections >= 1
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert "code 1009 (message too big)" in r.text, r.text[-3000:]
    assert r.wall_s < DURATION_S + GRACEFUL_S + CLOSE_S + STARTUP_S, r.wall_s
    assert r.peak_rss_mb < MAX_RSS_MB, r.peak_rss_mb
    points = [json.loads(line) for line in out.read_text().splitlines()]
    sessions = [p["data"]["tags"] for p in points
                if p["type"] == "Point" and p["metric"] == "ws_sessions"]
    assert sessions and sessions[0]["close_code"] == "1009"
