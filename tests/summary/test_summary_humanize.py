"""Text-summary value formatting and name ordering (k6 summary.js, §2.4)."""

from __future__ import annotations

import pytest

from loadgen.summary.humanize import (
    collation_key,
    humanize_bytes,
    humanize_duration,
    humanize_value,
    sort_metric_names,
    str_width,
)


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (0.000123, "123ns"), (0.23473, "234.73µs"), (0.2347399, "234.73µs"),
     (0.0759130, "75.91µs"), (7.5759, "7.57ms"), (11.0001, "11ms"), (20.6499, "20.64ms"),
     (1500, "1.5s"), (1999.999, "1.99s"), (60000, "1m0s"), (61500, "1m1s"), (125000, "2m5s"),
     (3_725_000, "1h2m5s"), (-0.5, "-500000ns"), (float("nan"), "NaNhNaNmNaNs")],
)
def test_generic_durations_truncate(ms: float, text: str) -> None:
    assert humanize_duration(ms, None) == text
    assert humanize_duration(ms, "") == text


@pytest.mark.parametrize(
    ("ms", "unit", "text"),
    [(47.84, "ms", "47.84ms"), (47.84, "s", "0.05s"), (47.84, "us", "47840.00µs"),
     (0.7016899, "ms", "0.70ms"), (0.0078125, "s", "0.00s"), (1.005, "ms", "1.00ms")],
)
def test_summary_time_unit(ms: float, unit: str, text: str) -> None:
    assert humanize_duration(ms, unit) == text


@pytest.mark.parametrize(
    ("b", "text"),
    [(0, "0 B"), (9, "9 B"), (9.5, "9.5 B"), (10, "10 B"), (750, "750 B"), (2742, "2.7 kB"),
     (37135.2, "37 kB"), (9960, "10 kB"), (9940, "9.9 kB"), (1548, "1.5 kB"),
     (1_000_000, "1.0 MB"), (1.5e9, "1.5 GB"), (float("inf"), "NaN B")],
)
def test_bytes(b: float, text: str) -> None:
    assert humanize_bytes(b) == text


@pytest.mark.parametrize(
    ("v", "mtype", "contains", "text"),
    [(0.6666666666666666, "rate", "default", "66.66%"), (0.75, "rate", "default", "75.00%"),
     (1, "rate", "time", "100.00%"), (0, "rate", "default", "0.00%"),
     (0.99999, "rate", "default", "99.99%"), (243.7766331, "counter", "default", "243.776633"),
     (18, "counter", "default", "18"), (0.25, "counter", "default", "0.25"),
     (2742, "counter", "data", "2.7 kB"), (12.5, "trend", "time", "12.5ms"),
     (None, "counter", "default", "NaN")],
)
def test_humanize_value(v: float | None, mtype: str, contains: str, text: str) -> None:
    assert humanize_value(v, mtype, contains, None) == text


def test_locale_compare_order_matches_k6_runtime() -> None:
    # printed by k6 v1.1.0: chars.sort((a, b) => a.localeCompare(b)) over printable ASCII
    k6_ascii = (" _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
                "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ")
    assert "".join(sorted(map(chr, range(32, 127)), key=collation_key)) == k6_ascii
    for k6_sorted in (
        ["a", "a b", "a_", "a_b", "a-b", "a{x}", "a{X}", "a1", "ab", "aB", "Ab", "AB", "ab10",
         "ab2", "b", "B", "e", "é", "f", "z_x", "Z_x", "z1", "µ"],
        ["{expected_response:true}", '{status : "404"}', "{status:200,method:GET}",
         "{status:200}", "a10", "a1b", "x", "X", "x_y", "x1"],
    ):
        assert sorted(reversed(k6_sorted), key=collation_key) == k6_sorted


def test_sort_parent_then_suffix() -> None:
    names = ["http_reqs{group:::front}", "http_reqs", "http_req_duration{status:200}",
             "http_reqs{group:::front::nested}", "http_req_duration",
             "http_req_duration{expected_response:true}", 'http_req_duration{status : "404"}',
             "http_req_duration{status:200,method:GET}", "http_req_failed"]
    assert sort_metric_names(names) == [
        "http_req_duration", "http_req_duration{expected_response:true}",
        'http_req_duration{status : "404"}', "http_req_duration{status:200,method:GET}",
        "http_req_duration{status:200}", "http_req_failed", "http_reqs",
        "http_reqs{group:::front::nested}", "http_reqs{group:::front}"]


def test_str_width() -> None:
    assert str_width("234.73µs") == 8
    assert str_width("\x1b[36m12ms\x1b[0m") == 4
    assert str_width("\x1b[2;37m...:\x1b[0m") == 4
    assert str_width("✓ ok") == 4
