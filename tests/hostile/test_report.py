"""The HTML report (`--report`, `loadgen report`) on input it must refuse or survive: exit
104 naming the problem before any load, no traceback; a runaway `name` tag and a hostile
name still give a bounded, quickly built page."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_run import run_cli
from servers import serve

MAX_RSS_MB = 400
QUICK_S = 15  # refusing bad input runs no load: it must be quick

SCENARIO = """
from loadgen import VU, ConstantVUs, Scenario

class Many(Scenario):
    executor = ConstantVUs(vus=4, duration="2s")
    graceful_stop = "1s"

    async def iteration(self, vu: VU):
        # a new request name per request, as a scenario that tags raw URLs would make
        await vu.http.get(f"/status/200?{vu.id}-{vu.iteration}",
                          name=f"</table><script>alert({vu.id})</script>{vu.iteration}")
"""


def refused(r, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == 104, r.text[-2000:]
    r.assert_clean()
    for w in words:
        assert w in r.err, r.err[-2000:]
    assert r.peak_rss_mb < MAX_RSS_MB and r.wall_s < QUICK_S


@pytest.mark.parametrize(("target", "words"), [
    ("missing-dir/r.html", ["--report", "does not exist"]),
    ("r.txt", ["--report", "r.txt", ".html"]),
])
def test_a_bad_report_path_is_refused_before_the_run(tmp_path: Path, target: str,
                                                     words: list[str]) -> None:
    (tmp_path / "s.py").write_text(SCENARIO)
    r = run_cli("run", str(tmp_path / "s.py"), "-q", "--report", str(tmp_path / target),
                env={"BASE_URL": "http://127.0.0.1:9"})
    refused(r, *words)
    assert "iterations" not in r.out  # no load ran, no summary


def test_report_of_archives_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "bad.ndjson").write_bytes(b"\x00PK not an archive\n")
    r = run_cli("report", str(tmp_path / "gone.ndjson"), str(tmp_path / "bad.ndjson"), "-o",
                str(tmp_path / "r.html"))
    refused(r, "gone.ndjson", "bad.ndjson")
    assert not (tmp_path / "r.html").exists()
    r = run_cli("report", str(tmp_path / "bad.ndjson"), "-o", str(tmp_path / "no/r.html"))
    refused(r, "-o", "does not exist", "bad.ndjson")  # every problem at once


def test_a_runaway_hostile_name_tag_gives_a_bounded_page(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCENARIO)
    page = tmp_path / "r.html"
    with serve() as base:
        r = run_cli("run", str(tmp_path / "s.py"), "-q", "--no-summary", "--report",
                    str(page), env={"BASE_URL": base}, timeout=60)
    assert r.code == 0, r.text[-2000:]
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < 2 + 1 + 8  # duration + graceful stop + start-up and the page
    text = page.read_text()
    assert "<script>alert(" not in text and "</table><script>" not in text
    assert "(other names)" in text  # past 50 names the rest are one row and one chart
    assert page.stat().st_size < 8 * 2**20
