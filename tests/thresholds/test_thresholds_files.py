"""Threshold files (YAML/JSON, k6's `thresholds` shape) and merging of sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.errors import ConfigError
from loadgen.metrics.model import MetricType
from loadgen.thresholds import (
    load_threshold_file,
    merge_thresholds,
    parse,
    parse_threshold_text,
)

YAML = """
http_req_duration:
  - p(95)<500
  - "avg < 200"
"http_req_duration{status:200}": ["max<1000"]
http_req_failed:
  - threshold: rate<0.01
    abortOnFail: true
    delayAbortEval: 10s
"""


def test_yaml_file(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(YAML, encoding="utf-8")
    raw = load_threshold_file(p)
    assert raw == {
        "http_req_duration": ["p(95)<500", "avg < 200"],
        "http_req_duration{status:200}": ["max<1000"],
        "http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": True,
                             "delayAbortEval": "10s"}],
    }
    tset = parse(raw, {"http_req_duration": MetricType.TREND,
                       "http_req_failed": MetricType.RATE})
    assert tset.get("http_req_failed") is not None


def test_json_file_and_options_shape(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_text('{"thresholds": {"checks": ["rate>0.9"]}}', encoding="utf-8")
    assert load_threshold_file(p) == {"checks": ["rate>0.9"]}


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("bad.json", "{not json", "not valid JSON"),
        ("bad.yaml", "a: [unclosed", "not valid YAML"),
        ("list.yaml", "- a\n- b\n", "expected a mapping"),
        ("str.yaml", "checks: rate>0.9\n", "checks: expected a list"),
    ],
)
def test_malformed_files_name_the_file(name: str, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_threshold_text(text, f"/x/{name}")
    assert f"/x/{name}" in str(info.value) and needle in str(info.value)
    assert info.value.exit_code == 104


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="threshold file .*nope.yaml"):
        load_threshold_file(tmp_path / "nope.yaml")


def test_merge_concatenates_lists_in_source_order() -> None:
    merged = merge_thresholds([
        {"checks": ["rate>0.9"], "http_reqs": ["count>0"]},
        {"checks": [{"threshold": "rate>0.5", "abortOnFail": True}]},
        {"http_req_duration": ["p(95)<1"]},
    ])
    assert merged == {
        "checks": ["rate>0.9", {"threshold": "rate>0.5", "abortOnFail": True}],
        "http_reqs": ["count>0"],
        "http_req_duration": ["p(95)<1"],
    }
    with pytest.raises(ConfigError):
        merge_thresholds([{"checks": "rate>0.9"}])
