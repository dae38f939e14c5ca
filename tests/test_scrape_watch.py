"""The scrape watcher's parsing and its per-label-set table (no network: ingest_text)."""

from __future__ import annotations

import textwrap

from loadgen.metrics.model import MetricType
from loadgen.metrics.registry import Recorder, Registry
from loadgen.summary.text import render_text
from loadgen.watch.scrape import ScrapeWatch

EXPO = textwrap.dedent("""\
    # TYPE http_requests counter
    http_requests_total{route="/a"} 5
    http_requests_created{route="/a"} 1.7e9
    http_requests_total{route="/b"} 50
    http_requests_created{route="/b"} 1.7e9
    # TYPE lag_seconds histogram
    lag_seconds_bucket{le="+Inf"} 2
    lag_seconds_sum 1
    lag_seconds_count 2
    lag_seconds_created 1.7e9
    # TYPE job_created gauge
    job_created 3
    # TYPE ws_connections gauge
    ws_connections 7
    """)


def watch() -> tuple[ScrapeWatch, Recorder]:
    rec = Recorder()
    return ScrapeWatch("http://127.0.0.1:1/metrics", Registry(), rec, {}), rec


def test_created_timestamps_of_counters_and_histograms_are_not_metrics():
    sw, rec = watch()
    sw.ingest_text(EXPO, 1)
    names = {r[2].name for r in rec.records}
    assert "http_requests_created" not in names and "lag_seconds_created" not in names
    assert "job_created" in names  # a gauge that happens to end in _created stays
    assert {"http_requests_total", "lag_seconds", "ws_connections"} <= names


def test_each_label_set_is_kept_apart_largest_first_and_bounded():
    sw, _ = watch()
    text = "".join(f'depth{{queue="q{i}"}} {i}\n' for i in range(8))
    sw.ingest_text(text, 1)
    sw.ingest_text(text.replace('depth{queue="q0"} 0', 'depth{queue="q0"} 100'), 2)
    q = sw.summary(top=3)["series"]["depth"]
    assert [s["labels"]["queue"] for s in q["top"]] == ["q0", "q7", "q6"]
    assert q["top"][0] == {"labels": {"queue": "q0"}, "value": 100.0, "min": 0.0, "max": 100.0}
    assert q["more"] == 5


def test_a_target_series_named_like_a_loadgen_metric_is_skipped():
    reg, rec = Registry(), Recorder()
    reg.define("vus", MetricType.GAUGE)
    sw = ScrapeWatch("http://127.0.0.1:1/metrics", reg, rec, {})
    assert sw.ingest_text("vus 999\nother 1\n", 1) == 1
    assert [r[2].name for r in rec.records] == ["other"]


def summary_data(sw: ScrapeWatch) -> dict:
    return {"options": {"summaryTrendStats": ["avg"]}, "state": {"testRunDurationMs": 1000},
            "metrics": {
                "ws_connections": {"type": "gauge", "contains": "default",
                                   "values": {"value": 7, "min": 7, "max": 7}},
                "http_requests_total": {"type": "gauge", "contains": "default",
                                        "values": {"value": 5, "min": 5, "max": 50}},
                "my_counter": {"type": "counter", "contains": "default",
                               "values": {"count": 1, "rate": 1}},
                "target_rss": {"type": "gauge", "contains": "data",
                               "values": {"value": 2e6, "min": 1e6, "max": 2e6}}},
            "loadgen": {"scrape": [sw.summary()]}}


def test_the_text_summary_shows_target_series_per_label_set_in_their_own_section():
    sw, _ = watch()
    sw.ingest_text(EXPO + "".join(f'many{{i="{i}"}} {i}\n' for i in range(9)), 1)
    text = render_text(summary_data(sw))
    custom, rest = text.split("CUSTOM", 1)[1].split("TARGET", 1)
    assert "WEBSOCKET" not in text  # the target's ws_connections is not loadgen's traffic
    assert "my_counter" in custom and "http_requests" not in custom
    assert "target_rss" not in custom and "target_rss" in rest
    assert "http://127.0.0.1:1/metrics: 1 scrapes, 0 failed" in rest
    b, a = rest.index('http_requests_total{route="/b"}'), rest.index(
        'http_requests_total{route="/a"}')
    assert b < a  # largest first, each label set on its own line
    assert 'many{i="8"}' in rest and 'many{i="3"}' not in rest
    assert "… and 4 more label sets of many" in rest
    assert "ws_connections" in rest and "job_created" in rest
    assert "http_requests_created" not in text and "lag_seconds_created" not in text


def test_target_open_fds_counts_the_sockets_a_process_holds():
    """psutil's open_files() leaves sockets out: a target leaking connections looked flat."""
    import subprocess
    import sys

    from loadgen.metrics.model import tagset
    from loadgen.watch.target import ProcessWatch

    holder = subprocess.Popen([sys.executable, "-c", (
        "import socket, sys\n"
        "socks = [socket.socket() for _ in range(40)]\n"
        "for s in socks: s.bind(('127.0.0.1', 0))\n"
        "print('ready', flush=True); sys.stdin.read()\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        reg, rec = Registry(), Recorder()
        ProcessWatch(holder.pid, reg, rec, tagset()).sample(1)
        fds = {r[2].name: r[3] for r in rec.records}["target_open_fds"]
        assert fds >= 40
    finally:
        holder.communicate("", timeout=10)
