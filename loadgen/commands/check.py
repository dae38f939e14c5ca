"""`loadgen check SUMMARY --thresholds FILE`: judge a finished run's summary after the fact.

A CI job can then gate on thresholds that were not known when the test ran (or re-gate an
old k6 run) from the summary alone. A summary only holds aggregates, so some thresholds
cannot be answered — a `p(99)` that was not a summary trend stat, a metric that was not
observed — and those are reported with a message saying what to change, never a silent
pass: exit 104 when nothing failed, but a threshold that clearly fails still fails the check
(99) beside an undecidable one. Values are shown as the run summary shows them (ms, %, kB).
Works on k6 `--summary-export` files and handleSummary JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import ConfigError, ExitCode
from loadgen.metrics.model import MetricType
from loadgen.metrics.registry import BUILTINS
from loadgen.metrics.selectors import SelectorError, parse_selector
from loadgen.summary.humanize import humanize_value
from loadgen.thresholds import SUPPORTED, RawThresholds, ThresholdError, parse_spec


@dataclass(frozen=True)
class SummaryMetric:
    type: MetricType
    values: dict[str, float]  # rate metrics use "rate" (export's "value" renamed)
    contains: str = "default"  # "time" (ms), "data" (bytes) or "default": how to show values


@dataclass(frozen=True)
class Verdict:
    metric: str
    source: str
    ok: bool
    aggregation: str
    value: float | None  # None: an empty rate (passes, as in k6)
    type: MetricType = MetricType.TREND
    contains: str = "default"

    def shown(self) -> str:
        """The value as the run summary's threshold lines show it (`p(95)=24.19ms`)."""
        if self.value is None:
            return "(no samples)"
        if self.value == math.inf:
            return "unserved"
        if self.aggregation == "count":
            return humanize_value(self.value, "counter", self.contains, None)
        text = humanize_value(self.value, self.type.value, self.contains, None)
        return text + "/s" if self.type is MetricType.COUNTER else text


@dataclass
class CheckResult:
    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # invalid thresholds: fix the file
    undecidable: list[str] = field(default_factory=list)  # valid, but the summary cannot say

    @property
    def exit_code(self) -> int:
        """An invalid threshold is a configuration error; otherwise a failure is a failure,
        whatever else could not be judged; only an all-passing check with an undecidable
        threshold is 104 (never a silent pass)."""
        if self.problems:
            return ExitCode.INVALID_CONFIG
        if any(not v.ok for v in self.verdicts):
            return ExitCode.THRESHOLDS_FAILED
        if self.undecidable:
            return ExitCode.INVALID_CONFIG
        return ExitCode.OK

    def render(self) -> str:
        """Human-readable report, one line per threshold, problems last."""
        lines = [f"{'✓' if v.ok else '✗'} {v.metric} '{v.source.strip()}' "
                 f"{v.aggregation}={v.shown()}" for v in self.verdicts]
        lines += [f"? {p}" for p in self.undecidable]
        lines += [f"error: {p}" for p in self.problems]
        return "\n".join(lines) + "\n"


def _infer_type(values: Mapping[str, Any]) -> MetricType:
    keys = set(values) - {"thresholds"}
    if {"passes", "fails"} <= keys:
        return MetricType.RATE
    if keys == {"count", "rate"}:
        return MetricType.COUNTER
    if keys == {"value", "min", "max"}:
        return MetricType.GAUGE
    return MetricType.TREND


def read_summary(doc: Mapping[str, Any]) -> dict[str, SummaryMetric]:
    """Metrics of a --summary-export or handleSummary document; ConfigError if neither."""
    metrics = doc.get("metrics")
    if not isinstance(metrics, Mapping):
        raise ConfigError("not a k6/loadgen summary: no 'metrics' object")
    out: dict[str, SummaryMetric] = {}
    for name, m in metrics.items():
        if not isinstance(m, Mapping):
            continue
        if isinstance(m.get("values"), Mapping) and "type" in m:  # handleSummary data
            try:
                mtype = MetricType(m["type"])
            except ValueError:
                raise ConfigError(f"metric {name}: unknown type {m['type']!r} (counter, gauge, "
                                  "rate or trend)") from None
            raw = dict(m["values"])
            contains = str(m.get("contains") or "default")
        else:  # --summary-export: bare values, rate renamed to "value"
            raw = {k: v for k, v in m.items() if k != "thresholds"}
            mtype = _infer_type(raw)
            if mtype is MetricType.RATE and "value" in raw:
                raw["rate"] = raw.pop("value")
            builtin = BUILTINS.get(str(name).partition("{")[0])  # the export has no contains
            contains = builtin[1].value if builtin else "default"
        # A trend statistic written as null is loadgen's unserved work (an open-model
        # percentile among dropped/interrupted iterations; JSON has no infinity): +inf, so
        # `p(95)<X` fails as it did in the run.
        out[str(name)] = SummaryMetric(mtype, {
            k: float(v) if isinstance(v, int | float) else math.inf for k, v in raw.items()
            if isinstance(v, int | float) or v is None and mtype is MetricType.TREND}, contains)
    return out


def _find(summary: Mapping[str, SummaryMetric], key: str) -> tuple[str, SummaryMetric] | None:
    """The summary entry for a threshold key, matching sub-metrics by tag set, not spelling."""
    sel = parse_selector(key)
    if sel.name in summary:
        return sel.name, summary[sel.name]
    for name, m in summary.items():
        try:
            other = parse_selector(name)
        except SelectorError:
            continue
        if other.parent == sel.parent and other.tags == sel.tags:
            return name, m
    return None


def _lookup(m: SummaryMetric, key: str) -> tuple[bool, float | None]:
    """(found, value) for an aggregation key such as "count" or "p(99.9)"."""
    if key in m.values:
        return True, m.values[key]
    if key.startswith("p("):
        want = float(key[2:-1])
        for k, v in m.values.items():
            if k.startswith("p(") and k.endswith(")"):
                try:
                    if float(k[2:-1]) == want:
                        return True, v
                except ValueError:
                    continue
    if key == "med":
        return _lookup(m, "p(50)") if "p(50)" in m.values else (False, None)
    return False, None


def check_summary(doc: Mapping[str, Any], thresholds: RawThresholds) -> CheckResult:
    """Evaluate threshold definitions against the values stored in a summary."""
    summary = read_summary(doc)
    res = CheckResult()
    for key, entries in thresholds.items():
        try:
            found = _find(summary, key)
        except SelectorError as e:
            res.problems.append(str(e))
            continue
        if found is None:
            res.undecidable.append(f"cannot evaluate thresholds on {key}: the summary has no "
                                f"metric {key!r} (it was not observed in that run, or the "
                                "sub-metric had no threshold then)")
            continue
        name, m = found
        for entry in entries:
            try:
                spec = parse_spec(entry, key)
            except ThresholdError as e:
                res.problems.append(str(e))
                continue
            expr = spec.expression
            if expr.method not in SUPPORTED[m.type]:
                res.problems.append(
                    f"invalid threshold {spec.source!r} applied on metric {key}: aggregation "
                    f"{expr.method} is not supported on a {m.type.value} metric (supported: "
                    f"{', '.join(SUPPORTED[m.type])})")
                continue
            if expr.window_ns is not None:
                res.undecidable.append(
                    f"cannot evaluate {spec.source!r} on {name}: a windowed threshold needs "
                    "the run's per-second intervals, which a summary does not have; judge it "
                    "during the run, or from `loadgen merge` of its --archive")
                continue
            agg = expr.sink_key
            ok_found, value = _lookup(m, agg)
            if m.type is MetricType.RATE and m.values.get("passes", 0) + m.values.get(
                    "fails", 0) == 0:
                ok_found, value = True, None  # k6: an empty rate has no value and passes
            if not ok_found:
                have = ", ".join(k for k in m.values if k not in ("passes", "fails"))
                res.undecidable.append(
                    f"cannot evaluate {spec.source!r} on {name}: the summary has no {agg} "
                    f"(it has {have}); re-run with --summary-trend-stats including {agg}")
                continue
            ok = True if value is None else expr.compare(value)
            res.verdicts.append(Verdict(name, spec.source, ok, agg, value, m.type, m.contains))
    return res


def load_summary_file(path: str | Path) -> dict[str, Any]:
    """Read a summary JSON file; ConfigError naming the file if unreadable or not JSON."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"summary file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"summary file {p}: not UTF-8 text (JSON expected)") from None
    except ValueError as e:
        raise ConfigError(f"summary file {p}: not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"summary file {p}: expected a JSON object")
    return doc
