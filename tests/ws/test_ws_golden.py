"""loadgen's WebSocket metrics against real k6 1.1.0 output (golden/): names, types, tags,
counts and timestamps of the k6 script golden/ws.js, replayed as a loadgen scenario."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from wshelpers import RealHarness, free_port

from loadgen import SharedIterations
from loadgen.scripting.scenario import Scenario

GOLDEN = Path(__file__).parent / "golden"
WS_METRICS = ("ws_sessions", "ws_connecting", "ws_session_duration", "ws_msgs_sent",
              "ws_msgs_received", "ws_ping")
END_TAGGED = ("ws_sessions", "ws_session_duration")  # loadgen adds close_code to these


def golden_lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (GOLDEN / name).read_text().splitlines() if line]


class WsJs(Scenario):
    """golden/ws.js: connect, send two messages and a ping, close on the pong."""

    name = "default"

    async def iteration(self, vu):
        async with await vu.ws.connect("/ws/echo", tags={"wstag": "t"}) as s:
            await s.send("hello")
            await s.send("world")
            await s.recv(timeout=2)
            await s.recv(timeout=2)
            await s.ping()
        vu.check(s, {"status is 101": lambda r: r.status == 101})


async def run_ws_js(harness: RealHarness) -> None:
    out = await harness.run((WsJs, SharedIterations(vus=1, iterations=2)))
    assert out.exit_code == 0


async def test_metric_names_types_and_contains_match_k6(harness: RealHarness):
    await run_ws_js(harness)
    metas = {d["data"]["name"]: d["data"] for d in golden_lines("ws_out.ndjson")
             if d["type"] == "Metric"}
    for name, meta in metas.items():
        m = harness.registry[name]
        assert (m.type.value, m.contains.value) == (meta["type"], meta["contains"]), name
        assert harness.samples(name), f"{name} was never sampled"


async def test_tags_and_counts_match_k6(harness: RealHarness):
    await run_ws_js(harness)
    points = [d for d in golden_lines("ws_out.ndjson") if d["type"] == "Point"]
    url = harness.base_url.replace("http://", "ws://") + "/ws/echo"
    for name in WS_METRICS:
        want = [p["data"]["tags"] for p in points if p["metric"] == name]
        got = [t for _, _, t in harness.samples(name)]
        assert got, name
        for tags in got:
            if name in END_TAGGED:
                assert tags.pop("close_code") == "1000"
            assert tags == {**want[0], "url": url}, name
        gold_total = sum(p["data"]["value"] for p in points if p["metric"] == name)
        if name.startswith("ws_msgs") or name == "ws_sessions":
            assert harness.total(name) == gold_total, name  # counters: exact totals (batched)
        else:
            assert len(got) == len(want), name  # trends: one sample per event
    export = json.loads((GOLDEN / "ws_summary_export.json").read_text())["metrics"]
    assert harness.total("ws_msgs_sent") == export["ws_msgs_sent"]["count"]
    assert harness.total("ws_sessions") == export["ws_sessions"]["count"]


async def test_session_samples_are_stamped_at_connect_start_like_k6(harness: RealHarness):
    await run_ws_js(harness)
    gold = [d for d in golden_lines("ws_out.ndjson") if d["type"] == "Point"]
    first = {d["metric"]: d["data"]["time"] for d in reversed(gold)}
    assert first["ws_sessions"] == first["ws_connecting"] == first["ws_session_duration"]
    starts = [t for t, _, _ in harness.samples("ws_connecting")]
    assert [t for t, _, _ in harness.samples("ws_sessions")] == starts
    assert [t for t, _, _ in harness.samples("ws_session_duration")] == starts


async def test_failed_handshakes_are_recorded_like_k6(harness: RealHarness):
    gold = {p["data"]["tags"]["url"].rsplit("/", 1)[1]: p["data"]["tags"]
            for p in golden_lines("ws_failed_connect_out.ndjson") if p["metric"] == "ws_sessions"}
    vu = harness.vu()
    for path in ("forbid", "plain"):
        s = await vu.ws.connect(f"/{path}", throw=False)
        assert not s.ok
    got = {t["url"].rsplit("/", 1)[1]: t for _, _, t in harness.samples("ws_sessions")}
    for path in ("forbid", "plain"):
        assert got[path]["status"] == gold[path]["status"]
        assert set(got[path]) == set(gold[path])  # no close_code: it never opened
    # k6 omits status/subproto when nothing answered; loadgen says status "0" (documented)
    assert "status" not in gold["x"]


@pytest.mark.k6
async def test_real_k6_and_loadgen_tag_the_same_session_identically(harness: RealHarness,
                                                                    tmp_path: Path):
    venv_k6 = Path(__file__).parents[2] / ".venv" / "bin" / "k6"
    k6 = str(venv_k6) if venv_k6.exists() else shutil.which("k6")
    if k6 is None:
        pytest.skip("k6 binary not installed")
    url = harness.base_url.replace("http://", "ws://") + "/ws/echo"
    script = (GOLDEN / "ws.js").read_text().replace("ws://127.0.0.1:18765/echo", url)
    (tmp_path / "ws.js").write_text(script)
    out = tmp_path / "out.ndjson"
    env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
    proc = await asyncio.create_subprocess_exec(
        k6, "run", "-q", "--no-summary", f"--address=127.0.0.1:{free_port()}",
        f"--out=json={out}", str(tmp_path / "ws.js"), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    k6_points = [json.loads(x) for x in out.read_text().splitlines()]
    await run_ws_js(harness)
    for name in WS_METRICS:
        theirs = [p["data"]["tags"] for p in k6_points
                  if p["type"] == "Point" and p["metric"] == name]
        ours = [t for _, _, t in harness.samples(name)]
        for t in ours:
            t.pop("close_code", None)
        assert {json.dumps(t, sort_keys=True) for t in ours} == {
            json.dumps(t, sort_keys=True) for t in theirs}, name
