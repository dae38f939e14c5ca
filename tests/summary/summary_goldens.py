"""Helpers shared by the summary tests: golden files and export -> handleSummary data.

A k6 `--summary-export` file lacks metric types, `contains`, options and state; these helpers
add them back (built-in metric types from the registry, custom ones given by the test) so the
export's real values can drive the text renderer and the builders.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from loadgen.metrics.registry import BUILTINS

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def golden_text(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def golden_json(name: str) -> Any:
    return json.loads(golden_text(name))


def metric_kind(name: str, custom: dict[str, tuple[str, str]]) -> tuple[str, str]:
    parent = name.split("{", 1)[0]
    if parent in custom:
        return custom[parent]
    mtype, contains = BUILTINS[parent]
    return mtype.value, contains.value


def export_to_data(
    export: dict[str, Any],
    *,
    custom: dict[str, tuple[str, str]] | None = None,
    trend_stats: list[str] | None = None,
    time_unit: str = "",
    duration_ms: float | None = None,
) -> dict[str, Any]:
    """Rebuild handleSummary data from a --summary-export object (inverse of export.py)."""
    custom = custom or {}
    metrics: dict[str, Any] = {}
    for name, values in export["metrics"].items():
        values = dict(values)
        thresholds = values.pop("thresholds", None)
        mtype, contains = metric_kind(name, custom)
        if mtype == "rate":
            values["rate"] = values.pop("value")
        m: dict[str, Any] = {"type": mtype, "contains": contains, "values": values}
        if thresholds:
            m["thresholds"] = {src: {"ok": not failed} for src, failed in thresholds.items()}
        metrics[name] = m
    if duration_ms is None:
        it = export["metrics"]["iterations"]
        duration_ms = it["count"] / it["rate"] * 1000
    return {
        "root_group": export["root_group"],
        "options": {
            "summaryTrendStats": trend_stats or ["avg", "min", "med", "max", "p(90)", "p(95)"],
            "summaryTimeUnit": time_unit,
            "noColor": False,
        },
        "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": duration_ms},
        "metrics": metrics,
    }


def assert_summary_in(rendered: str, golden_name: str) -> None:
    """The rendered summary must appear verbatim in the golden output (banners around it)."""
    text = golden_text(golden_name)
    start = text.find("\n\n  █ ")
    assert start >= 0, f"no summary in {golden_name}"
    expected = text[start : start + len(rendered)]
    if rendered != expected:
        diff = "\n".join(difflib.unified_diff(
            expected.splitlines(), rendered.splitlines(), "golden", "rendered", lineterm=""))
        raise AssertionError(f"text summary differs from {golden_name}:\n{diff}")
    rest = text[start + len(rendered):]
    assert rest == "" or rest.startswith(("running (", "time=", "\n")), repr(rest[:80])


def ndjson_lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in golden_text(name).splitlines() if line.strip()]


def assert_same_json(got: Any, want: Any, path: str = "$", rel: float = 0.0) -> None:
    """Same keys, same value types (int-valued numbers may be float), same numbers."""
    if isinstance(want, dict):
        assert isinstance(got, dict), path
        assert set(got) == set(want), f"{path}: keys {sorted(set(got) ^ set(want))}"
        for k in want:
            assert_same_json(got[k], want[k], f"{path}.{k}", rel)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same_json(g, w, f"{path}[{i}]", rel)
    elif isinstance(want, bool) or want is None or isinstance(want, str):
        assert got == want and type(got) is type(want), f"{path}: {got!r} != {want!r}"
    else:
        assert isinstance(got, int | float) and not isinstance(got, bool), path
        if rel:
            assert abs(got - want) <= rel * max(abs(want), 1e-300), f"{path}: {got} != {want}"
        else:
            assert got == want, f"{path}: {got!r} != {want!r}"


# The thresholds of k6-golden/scripts/basic.js (the run behind basic_summary_export.json).
BASIC_THRESHOLDS = {
    "http_req_duration": ["p(95)<500", "avg<200"],
    "http_req_duration{status:200}": ["max<1000"],
    "http_req_failed": ["rate<0.5"],
    "checks": ["rate>0.9"],
    "my_counter": ["count>1"],
    "my_gauge": ["value<100"],
    "my_rate": ["rate>0.1"],
    "my_trend": ["med>0"],
}
