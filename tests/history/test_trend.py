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
        self.scripts: list[tuple[str | None, str]] = []
        self._script: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script, self._script = True, dict(attrs).get("id")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append((self._script, data))
        else:
            self.text.append(data)


def evil_history(db: Path, evil: str) -> None:
    with HistoryStore(db) as store:
        for day, p95 in enumerate(NIGHTLY + SLOWER, start=1):
            store.add(record(evil, f"2026-11-{day:02d}T02:00:00Z", p95=p95,
                             endpoints=[endpoint(f"a\"b<{evil}", p95)]))


def test_html_charts_are_the_reports_self_contained_and_escaped(tmp_path: Path) -> None:
    """The run report's charts and inlined plotly, one chart per metric, labels escaped."""
    db, evil = tmp_path / "h.db", "<script>alert(1)</script>"
    evil_history(db, evil)
    out = tmp_path / "trend.html"
    assert run_trend(str(db), None, 7, "10%", 3, False, str(out)) == 99
    page = out.read_text()
    p = Tags()
    p.feed(page)
    assert [sid for sid, _ in p.scripts] == ["report-data", "chart-library", None]
    assert not [a for _, attrs in p.tags for a in attrs if a in ("src", "href")]
    assert "<script>alert" not in page and evil in "".join(p.text)  # text, escaped
    figs = json.loads(p.scripts[0][1])["figures"]
    # one chart per metric: http_req_duration (p95+p99), http_reqs, http_req_failed; the
    # endpoint's latency (p95+p99), error rate and rate
    assert len(figs) == 6
    assert [d["id"] for d in figs] == [f"t0-{i}" for i in range(6)]
    assert {f"chart-{d['id']}" for d in figs} <= {a.get("id") for _, a in p.tags}
    values = [t for f in figs for t in f["data"] if t.get("hoverinfo") == "text"
              and not t["name"].endswith(": worse")]
    assert len(values) == 8 and all(len(t["y"]) == 10 for t in values)
    worse = [t for f in figs for t in f["data"] if t["name"].endswith(": worse")]
    assert sum(len(t["x"]) for t in worse) >= 3 * 2  # the slower runs of both p95s
    text = json.dumps(figs)
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_html_page_of_the_module_alone() -> None:
    assert trend_html.render([]).startswith("<!DOCTYPE html>")
