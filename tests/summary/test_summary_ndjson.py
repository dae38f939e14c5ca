"""`--out json` NDJSON lines, re-created from real k6 streams byte for byte (§6)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from summary_goldens import golden_text

from loadgen.metrics.model import Contains, Metric, MetricType, SubMetric
from loadgen.metrics.registry import BUILTINS
from loadgen.results.ndjson import (
    NdjsonWriter,
    go_json,
    go_string,
    metric_line,
    point_line,
    rfc3339nano,
)
from loadgen.thresholds import parse

JSONMETA_THRESHOLDS = {
    "http_req_failed": [{"threshold": "rate<0.5", "abortOnFail": True, "delayAbortEval": "10s"},
                        "rate<0.9"],
    "http_reqs{method:GET}": ["count>0"],
}


def parse_time(s: str) -> int:
    """RFC3339Nano 'Z' time -> Unix ns (exact)."""
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z", s)
    assert m
    sec = int(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return sec * 1_000_000_000 + int((m.group(2) or "").ljust(9, "0"))


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "1970-01-01T00:00:00Z"), (1_500_000_000, "1970-01-01T00:00:01.5Z"),
     (1_795_289_678_652_859_311, "2026-11-21T19:34:38.652859311Z"),
     (1_795_289_678_100_000_000, "2026-11-21T19:34:38.1Z")],
)
def test_rfc3339nano(ns: int, text: str) -> None:
    assert rfc3339nano(ns) == text
    assert parse_time(text) == ns


def test_go_strings() -> None:
    assert go_string('a"b\\c\n<&>\u2028\x01') == (
        '"a\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u2028\\u0001"')
    assert go_string("<x>", escape_html=False) == '"<x>"'
    assert go_json({"a": [1.0, None, True, "x"]}) == '{"a":[1,null,true,"x"]}'


@pytest.mark.parametrize("golden", ["basic_out.ndjson", "floatfmt_out.ndjson",
                                    "jsonmeta_out.ndjson"])
def test_every_line_recreated(golden: str) -> None:
    for line in golden_text(golden).splitlines():
        rec = json.loads(line)
        d = rec["data"]
        if rec["type"] == "Metric":
            subs = [SubMetric(Metric(d["name"], MetricType(d["type"])), s["suffix"],
                              tuple(s["tags"].items())) for s in d["submetrics"] or []]
            got = metric_line(d["name"], d["type"], d["contains"], d["thresholds"], subs or None)
            assert got == line
            continue
        value_text = re.search(r'"value":([^,]+),', line)
        assert value_text
        got = point_line(rec["metric"], parse_time(d["time"]), float(value_text.group(1)),
                         d["tags"], d.get("metadata"))
        if "metadata" in d:  # k6 writes metadata keys in random order; we sort them
            assert json.loads(got) == rec
            assert got.split(',"metadata"')[0] == line.split(',"metadata"')[0]
        else:
            assert got == line


def _metric(name: str, subs: dict[str, tuple[tuple[str, str], ...]] | None = None) -> Metric:
    mtype, contains = BUILTINS[name]
    m = Metric(name, mtype, contains)
    for suffix, tags in (subs or {}).items():
        m.submetrics.append(SubMetric(m, suffix, tags))
    return m


def test_writer_metric_lines_before_first_point_and_flush() -> None:
    tset = parse(JSONMETA_THRESHOLDS, {n: t for n, (t, _) in BUILTINS.items()})
    out = io.BytesIO()
    w = NdjsonWriter(out, tset.by_metric())
    reqs = _metric("http_reqs", {"method:GET": (("method", "GET"),)})
    failed = _metric("http_req_failed")
    vus = Metric("vus", MetricType.GAUGE, Contains.DEFAULT)
    tags: dict[str, Any] = {"scenario": "default", "group": "", "method": "GET"}
    w.sample(reqs, 1_795_289_676_665_388_435, 1, tags)
    w.sample(failed, 1_795_289_676_665_388_435, 0, tags, {"vu": "1", "iter": "0"})
    w.sample(reqs, 1_795_289_676_665_766_856, 1.0, tags)
    w.sample(vus, 1_795_289_677_000_000_000, 1, ())
    assert w.pending == 7 and out.getvalue() == b""
    w.flush()
    assert w.pending == 0
    lines = out.getvalue().decode().splitlines()
    golden = golden_text("jsonmeta_out.ndjson").splitlines()
    assert lines[0] in golden  # http_reqs Metric line with its threshold sub-metric
    assert lines[2] in golden  # http_req_failed Metric line with the abortOnFail object
    assert [json.loads(x)["type"] for x in lines] == ["Metric", "Point", "Metric", "Point",
                                                      "Point", "Metric", "Point"]
    assert lines[3].endswith(',"metadata":{"iter":"0","vu":"1"}}}')
    assert lines[6] == ('{"metric":"vus","type":"Point","data":{"time":'
                        '"2026-11-21T19:34:37Z","value":1,"tags":{}}}')
    w.flush()  # nothing pending: writes nothing more
    assert out.getvalue().decode().count("\n") == 7
