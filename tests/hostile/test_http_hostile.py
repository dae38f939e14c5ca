"""Hostile HTTP servers against the real CLI, through both transports: every case ends in
time, with a bounded RSS, no traceback, and the sample's k6 error code and message.

The servers (http_servers.py) run in this process; the load generator is a child process
whose peak RSS the runner samples. Each run is 1 VU for 1 s with a 1 s graceful stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hostile_run import CliRun, run_cli
from http_servers import Hostile, hostile_servers

SCENARIO = """
from loadgen import ConstantVUs, Scenario

class Hostile(Scenario):
    executor = ConstantVUs(vus=1, duration="1s", graceful_stop="1s")

    async def iteration(self, vu):
        await vu.http.get(vu.env["TARGET"], headers={"Authorization": "Bearer s3cret",
                                                     "X-Custom": "c"},
                          cookies={"sid": "own"})
        await vu.sleep(0.1)
"""
DURATION, GRACE, MARGIN = 1.0, 1.0, 8.0  # margin: interpreter start-up and imports
MAX_RSS_MB = 300
KINDS = ["fast", "aiohttp"]


@pytest.fixture(scope="module")
def servers() -> Any:
    with hostile_servers() as h:
        yield h


def run(h: Hostile, tmp_path: Path, kind: str, target: str, *extra: str) -> tuple[
        CliRun, list[dict[str, str]]]:
    script = tmp_path / "hostile.py"
    script.write_text(SCENARIO)
    out = tmp_path / "out.json"
    r = run_cli("run", str(script), "--http-client", kind, "-q", "--no-summary",
                "-e", f"BASE_URL={h.base}", "-e", f"TARGET={target}", "-o", f"json={out}",
                *extra, timeout=60)
    r.assert_clean()
    assert r.wall_s < DURATION + GRACE + MARGIN, r.wall_s
    assert r.peak_rss_mb < MAX_RSS_MB, r.peak_rss_mb
    tags = []
    for line in out.read_bytes().splitlines():
        d = orjson.loads(line)
        if d["type"] == "Point" and d["metric"] == "http_reqs":
            tags.append(d["data"]["tags"])
    assert tags, r.text[-2000:]
    return r, tags


def only(tags: list[dict[str, str]], key: str) -> set[str]:
    return {t.get(key, "") for t in tags}


ERROR_CASES = {
    "10 GB streamed body": ("/stream", (), "response body larger than max_response_bytes "
                                          "(67108864)"),
    "gzip bomb": ("/bomb", (), "decompressed response body larger than max_response_bytes "
                               "(67108864)"),
    "--max-response-bytes": ("/stream", ("--max-response-bytes", "100000"),
                             "response body larger than max_response_bytes (100000)"),
    "102 flood": ("/flood", (), "net/http: too many 1xx informational responses"),
    "50k headers": ("/many-headers", (), "server response has more than 10000 header lines; "
                                         "aborted"),
    "1 MiB header": ("/big-header", (), "server response headers exceeded 1048576 bytes; "
                                        "aborted"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_hostile_responses_are_bounded_error_samples(servers: Hostile, tmp_path: Path,
                                                     kind: str, case: str) -> None:
    target, extra, message = ERROR_CASES[case]
    r, tags = run(servers, tmp_path, kind, target, *extra)
    assert r.code == 0, r.text[-2000:]
    assert only(tags, "status") == {"0"}
    assert only(tags, "error_code") == {"1000"}
    assert only(tags, "error") == {message}
    print(f"{case} via {kind}: {len(tags)} requests, peak RSS {r.peak_rss_mb:.0f} MB, "
          f"{r.wall_s:.1f} s")


@pytest.mark.parametrize("kind", KINDS)
def test_cross_host_redirect_keeps_credentials_home(servers: Hostile, tmp_path: Path,
                                                    kind: str) -> None:
    servers.seen["1"].clear()
    servers.seen["2"].clear()
    r, tags = run(servers, tmp_path, kind, "/cross")
    assert r.code == 0
    assert only(tags, "status") == {"302", "200"}
    first = [h for h in servers.seen["1"] if h.startswith(b"get /cross")]
    landed = servers.seen["2"]
    assert first and landed
    assert all(b"authorization: bearer s3cret" in h and b"sid=own" in h for h in first)
    for head in landed:
        assert b"authorization" not in head and b"cookie" not in head and b"s3cret" not in head
        assert b"x-custom: c" in head  # Go forwards the other headers


@pytest.mark.parametrize("kind", KINDS)
def test_body_longer_than_content_length(servers: Hostile, tmp_path: Path, kind: str) -> None:
    r, tags = run(servers, tmp_path, kind, "/short-cl")
    assert r.code == 0
    assert only(tags, "status") == {"200"} and only(tags, "error") == {""}


@pytest.mark.parametrize("kind", KINDS)
def test_redirect_loop_warns_once(servers: Hostile, tmp_path: Path, kind: str) -> None:
    r, tags = run(servers, tmp_path, kind, "/loop")
    assert r.code == 0
    assert only(tags, "status") == {"302"}
    assert len(tags) >= 22  # at least two requests of 11 hops each
    assert r.text.count("Stopped after 10 redirects and returned the redirection; pass "
                        "{ redirects: n } in request params or set global maxRedirects to "
                        "silence this") == 1, r.text[-3000:]


@pytest.mark.parametrize(("flag", "attribute", "needle"), [
    (["--max-response-bytes", "-1"], "", "--max-response-bytes must be >= 0 (0: no cap), got -1"),
    ([], "    max_response_bytes = '64MiB'\n",
     "scenario hostile: max_response_bytes must be a whole number of bytes >= 0"),
])
def test_a_bad_body_cap_is_a_configuration_error(tmp_path: Path, flag: list[str],
                                                 attribute: str, needle: str) -> None:
    script = tmp_path / "hostile.py"
    script.write_text(SCENARIO.replace("    async def iteration", attribute
                                       + "    async def iteration"))
    r = run_cli("run", str(script), "-q", *flag, timeout=30)
    r.assert_clean()
    assert r.code == 104, r.text[-2000:]
    assert needle in r.text
    assert r.wall_s < MARGIN and r.peak_rss_mb < MAX_RSS_MB
