"""The trend gate on stored synthetic runs (inserted through the store API with fixed
timestamps): the README's example (seven nightly runs, then three slower ones: fails on the
third), a recovered run, noise, too few runs, and the HTML charts."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from history_fixtures import endpoint, record

from loadgen.commands.trend import exit_code, parse_tolerance, run_trend
from loadgen.errors import ConfigError
from loadgen.history import trend_html
from loadgen.history.store import HistoryStore
from loadgen.history.trend import render, trend

NIGHTLY = [101, 98, 100, 103, 99, 97, 102]  # p95 ms of seven ordinary nights
SLOWER = [131, 129, 133]


def nights(path: Path, p95s: list[float], label: str = "nightly") -> None:
    with HistoryStore(path) as store:
        for day, p95 in enumerate(p95s, start=1):
            store.add(record(label, f"2026-11-{day:02d}T02:00:00Z", p95=p95,
                             endpoints=[endpoint("messages", p95 * 0.8)]))


def gate(path: Path, label: str | None = "nightly") -> int:
    return run_trend(str(path), label, 7, "10%", 3, False, None)


def test_the_readme_example_fails_on_the_third_slower_run(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          ) -> None:
    db = tmp_path / "h.db"
    nights(db, NIGHTLY)
    for i, p95 in enumerate(SLOWER):
        with HistoryStore(db) as store:  # the next night, slower
            store.add(record("nightly", f"2026-11-{8 + i:02d}T02:00:00Z", p95=p95,
                             endpoints=[endpoint("messages", p95 * 0.8)]))
        capsys.readouterr()
        code = gate(db)
        out = capsys.readouterr().out
        if i < 2:
            assert code == 104 and "NOT ENOUGH RUNS" in out, out  # 8, 9 runs: cannot fail yet
        else:
            assert code == 99, out
            assert "✗ http_req_duration p95: worse than the 7-run average by more than 10% " \
                   "in the last 3 runs" in out
            assert "✗ endpoint messages p95" in out
            assert "133.00ms +22%*" in out


def test_a_recovered_night_and_noise_pass(tmp_path: Path) -> None:
    nights(tmp_path / "recovered.db", NIGHTLY + SLOWER + [100])
    assert gate(tmp_path / "recovered.db") == 0
    nights(tmp_path / "noise.db", NIGHTLY + [130, 100, 131, 99, 132])
    assert gate(tmp_path / "noise.db") == 0


def test_two_slower_runs_of_ten_do_not_fail(tmp_path: Path) -> None:
    nights(tmp_path / "h.db", [100, *NIGHTLY, 131, 129])
    assert gate(tmp_path / "h.db") == 0


def test_each_label_alone_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    nights(db, NIGHTLY + SLOWER, "slow")
    nights(db, NIGHTLY + NIGHTLY[:3], "fine")
    capsys.readouterr()
    assert run_trend(str(db), None, 7, "10%", 3, True, None) == 99
    doc = json.loads(capsys.readouterr().out)
    by = {t["label"]: t for t in doc["labels"]}
    assert by["fine"]["failing"] == [] and by["fine"]["enough_runs"] is True
    assert "http_req_duration p95" in by["slow"]["failing"]
    [s] = [s for s in by["slow"]["series"] if s["name"] == "http_req_duration"
           and s["stat"] == "p95"]
    assert s["streak"] == 3 and [p["worse"] for p in s["points"]][-3:] == [True] * 3
    assert s["points"][7]["baseline"] == pytest.approx(sum(NIGHTLY) / 7)


def test_too_few_runs_is_never_a_pass(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    nights(db, NIGHTLY[:3])
    with HistoryStore(db) as store:
        t = trend(store.runs("nightly"), "nightly", window=7, tolerance=0.1, consecutive=3)
    assert not t.enough and exit_code([t]) == 104
    assert "NOT ENOUGH RUNS: 3 run(s) of 'nightly'; the gate needs 10" in render(t)
    assert gate(db, "nobody") == 104


def test_bad_options_are_named(tmp_path: Path) -> None:
    nights(tmp_path / "h.db", NIGHTLY)
    with pytest.raises(ConfigError) as e:
        run_trend(str(tmp_path / "h.db"), None, 0, "ten", 0, False, str(tmp_path / "no/x.html"))
    assert len(e.value.problems) == 4
    assert parse_tolerance("12.5%") == pytest.approx(0.125)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_charts_are_self_contained_and_escaped(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    evil = "<script>alert(1)</script>"
    with HistoryStore(db) as store:
        for day, p95 in enumerate(NIGHTLY + SLOWER, start=1):
            store.add(record(evil, f"2026-11-{day:02d}T02:00:00Z", p95=p95,
                             endpoints=[endpoint(f"a\"b<{evil}", p95)]))
    out = tmp_path / "trend.html"
    assert run_trend(str(db), None, 7, "10%", 3, False, str(out)) == 99
    page = out.read_text()
    p = Tags()
    p.feed(page)
    tags = [t for t, _ in p.tags]
    assert "script" not in tags and "<script>" not in page
    assert not [a for _, attrs in p.tags for a in attrs if a in ("src", "href")]
    assert "url(" not in page and "://" not in page and "@import" not in page
    assert evil in "".join(p.text)  # shown as text, escaped in the source
    series = 4 + 4  # http_req_duration p95/p99, http_reqs rate, failed value + 4 per endpoint
    assert tags.count("svg") == series
    lines = [a["points"] for t, a in p.tags if t == "polyline" and a.get("class") == "value"]
    assert len(lines) == series and all(len((pts or "").split()) == 10 for pts in lines)
    assert tags.count("circle") >= 3 * 2  # the worse runs of the p95s are marked


def test_html_page_of_the_module_alone() -> None:
    assert trend_html.render([]).startswith("<!DOCTYPE html>")
