"""`--summary-export`: k6's legacy JSON results file.

k6 derives the export from the handleSummary data in JavaScript (summary-wrapper.js,
k6-compat.md §1): options/state dropped, each metric replaced by its values, rate `rate`
renamed `value`, thresholds inverted to "true = failed", group/check arrays turned into
objects keyed by name, then `JSON.stringify(obj, null, 4)`. Doing the same transformation on
the same object is the simplest way to stay identical.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from loadgen.summary.jsjson import js_stringify


def _legacy_group(group: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(group)
    groups = out.get("groups")
    if isinstance(groups, list):
        out["groups"] = {g["name"]: _legacy_group(g) for g in groups}
    checks = out.get("checks")
    if isinstance(checks, list):
        out["checks"] = {c["name"]: dict(c) for c in checks}
    return out


def summary_export(data: Mapping[str, Any]) -> dict[str, Any]:
    """The legacy export object for a handleSummary data object (which is not modified)."""
    results: dict[str, Any] = copy.deepcopy(dict(data))
    results.pop("options", None)
    results.pop("state", None)
    metrics: dict[str, Any] = {}
    for name, metric in results.get("metrics", {}).items():
        values = dict(metric.get("values", {}))
        thresholds = metric.get("thresholds")
        if thresholds:
            values["thresholds"] = {src: not t["ok"] for src, t in thresholds.items()}
        if metric.get("type") == "rate" and "rate" in values:
            values["value"] = values.pop("rate")
        metrics[name] = values
    results["metrics"] = metrics
    if "root_group" in results:
        results["root_group"] = _legacy_group(results["root_group"])
    return results


def render_summary_export(data: Mapping[str, Any]) -> str:
    """The `--summary-export` file content (JS number formatting, 4-space indent)."""
    return js_stringify(summary_export(data), indent=4)
