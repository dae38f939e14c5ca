"""Hostile WebSocket peers against the real CLI: a peer that stops reading, frames that break
the protocol, handshakes that never finish or stop half-way. Each run must end on time
(duration + graceful stop + the close deadline + start-up), record what went wrong in
`ws_errors`/`close_code` (not drop it), fail its `ws_errors` threshold (exit 99), print a
message naming the problem and no traceback, and stay small."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ws_servers
from hostile_run import run_cli
from servers import free_port
from urls import with_user

SCENARIO = '''
from loadgen import ConstantVUs, Scenario
from loadgen.net.ws import WSError


class Hostile(Scenario):
    executor = ConstantVUs(vus=1, duration="2s", graceful_stop="1s")
    thresholds = {"ws_errors": ["count<1"]}

    async def iteration(self, vu):
        try:
            ws = await vu.ws.connect(vu.env["WS_URL"], timeout=1.0,
                                     send_timeout=float(vu.env["SEND_TIMEOUT"]))
        except WSError:
            await vu.sleep(0.2)  # the error is recorded; do not spin
            raise
        async with ws:
            if vu.env["MODE"] == "send":
                for _ in range(64):  # 64 MiB at most; the peer reads none of it
                    await ws.send(b"x" * 2**20)
            else:
                await ws.recv(timeout=5)
'''

DURATION_S, GRACEFUL_S, CLOSE_S, STARTUP_S = 2.0, 1.0, 1.0, 6.0  # close: interrupted
MAX_RSS_MB = 250

# (peer, what the VU does, send timeout, ws_errors error tag, close_code tag, message)
CASES = [
    (ws_servers.no_read, "send", "10", "close timeout", "1006", "ws_errors"),
    (ws_servers.no_read, "send", "0.5", "send timeout", "1006", "read nothing for 0.5 s"),
    (ws_servers.oversized, "recv", "10", "close 1009 (message too big)", "1009",
     "code 1009 (message too big)"),
    (ws_servers.bad_opcode, "recv", "10", "close 1002 (protocol error)", "1002",
     "code 1002 (protocol error)"),
    (ws_servers.bad_utf8, "recv", "10", "close 1007 (invalid data)", "1007",
     "code 1007 (invalid data)"),
    (ws_servers.never_handshakes, "recv", "10", "handshake timeout", None,
     "connect timed out"),
    (ws_servers.closes_mid_handshake, "recv", "10", "handshake: unexpected EOF", None,
     "closed the connection during the handshake"),
]
IDS = ["no-read-close", "no-read-send", "oversized", "bad-opcode", "bad-utf8",
       "no-handshake", "mid-handshake"]


def ws_points(path: Path) -> list[tuple[str, dict[str, str]]]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if d["type"] == "Point" and d["metric"] in ("ws_errors", "ws_sessions"):
            out.append((d["metric"], d["data"]["tags"]))
    return out


@pytest.mark.parametrize(("peer", "mode", "send_timeout", "error", "close_code", "message"),
                         CASES, ids=IDS)
def test_hostile_ws_peer_ends_on_time_and_is_recorded(
        tmp_path: Path, peer: ws_servers.Peer, mode: str, send_timeout: str, error: str,
        close_code: str | None, message: str) -> None:
    script = tmp_path / "hostile_ws.py"
    script.write_text(SCENARIO)
    out = tmp_path / "out.ndjson"
    with ws_servers.serving(peer) as server:
        r = run_cli("run", str(script), "-q", "--out", f"json={out}",
                    env={"WS_URL": server.url, "MODE": mode, "SEND_TIMEOUT": send_timeout},
                    timeout=60)
        assert server.connections >= 1
    r.assert_clean()
    assert r.code == 99, r.text[-3000:]
    assert message in r.text, r.text[-3000:]
    assert r.wall_s < DURATION_S + GRACEFUL_S + CLOSE_S + STARTUP_S, r.wall_s
    assert r.peak_rss_mb < MAX_RSS_MB
    points = ws_points(out)
    errors = {t["error"] for m, t in points if m == "ws_errors"}
    assert error in errors, errors
    sessions = [t for m, t in points if m == "ws_sessions"]
    assert sessions
    if close_code is None:  # never opened: k6's status 0, no close code
        assert all(t["status"] == "0" and "close_code" not in t for t in sessions)
    else:
        assert sessions[0]["close_code"] == close_code and sessions[0]["status"] == "101"


def test_no_url_password_in_output_or_result_files(tmp_path: Path) -> None:
    """A password in a ws:// or http:// URL: the log line of the failed iteration, the
    banner of `loadgen http` and every result file show `user:***@` at most."""
    script = tmp_path / "hostile_ws.py"
    script.write_text(SCENARIO)
    port = free_port()
    files = [tmp_path / "ws.ndjson", tmp_path / "ws.json", tmp_path / "http.ndjson"]
    ws_url = with_user(f"ws://127.0.0.1:{port}/", "bob", "hunter2")
    http_url = with_user(f"http://127.0.0.1:{port}/x", "bob", "hunter2")
    ws = run_cli("run", str(script), "--out", f"json={files[0]}", "--summary-export",
                 str(files[1]), env={"WS_URL": ws_url, "MODE": "recv", "SEND_TIMEOUT": "1"},
                 timeout=60)
    http = run_cli("http", "GET", http_url, "-d", "1s",
                   "--rps", "2", "--out", f"json={files[2]}", timeout=60)
    for r, code in ((ws, 99), (http, 0)):
        r.assert_clean()
        assert r.code == code, r.text[-3000:]
        assert r.wall_s < DURATION_S + GRACEFUL_S + STARTUP_S and r.peak_rss_mb < MAX_RSS_MB
        assert "hunter2" not in r.text and "bob:***@127.0.0.1" in r.text, r.text[-3000:]
    for f in files:
        assert "hunter2" not in f.read_text() and "bob" not in f.read_text(), f
