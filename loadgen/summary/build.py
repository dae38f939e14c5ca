"""Build k6's handleSummary `data` object (k6-compat.md §2.1) from sinks, thresholds, groups.

Every other result format derives from this one object, as in k6: the `--summary-export` file
is a transformation of it (export.py), the `--summary-json` file is it (handle_summary.py),
and the text summary renders it (text.py). The only extra facts the text summary needs — the
values of `p(N)` thresholds that are not summary trend stats, and the checks merged by name —
travel beside it in `Summary`, never inside the JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.sinks import Sink, new_sink
from loadgen.numfmt import go_float
from loadgen.summary.groups import FlatCheck, GroupTree

DEFAULT_TREND_STATS: tuple[str, ...] = ("avg", "min", "med", "max", "p(90)", "p(95)")
TIME_UNITS = ("", "s", "ms", "us")


class _NoSetupData:
    """Sentinel: setup() did not run or returned nothing (the key is then absent)."""

    def __repr__(self) -> str:
        return "NO_SETUP_DATA"


NO_SETUP_DATA: Any = _NoSetupData()


@dataclass(frozen=True)
class MetricEntry:
    """What the engine knows about one metric or sub-metric at the end of the run."""

    type: MetricType
    contains: Contains = Contains.DEFAULT
    sink: Sink | None = None  # None: never sampled
    thresholds: Sequence[tuple[str, bool]] = ()  # (source, ok) in declaration order


@dataclass(frozen=True)
class SummaryOptions:
    trend_stats: tuple[str, ...] = DEFAULT_TREND_STATS
    time_unit: str = ""  # "", "s", "ms" or "us" (k6 --summary-time-unit)
    no_color: bool = False


@dataclass
class Summary:
    """The handleSummary data plus what only the text summary needs."""

    data: dict[str, Any]
    threshold_values: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[FlatCheck] | None = None  # None: derive from data["root_group"]
    #: metrics whose thresholds failed for want of any sample (the judge's call): the text
    #: shows "(no samples)" there, not k6's zero values (`p(95)=0s` reads as a fast target)
    no_samples: frozenset[str] = frozenset()


def validate_trend_stats(stats: Sequence[str]) -> list[str]:
    """Problems with --summary-trend-stats entries, k6's wording (k6 exits 255 on them)."""
    problems = []
    for stat in stats:
        if stat in ("avg", "min", "med", "max", "count"):
            continue
        if not (stat.startswith("p(") and stat.endswith(")")):
            problems.append(f"invalid trend stat '{stat}', unknown format")
            continue
        try:
            p = float(stat[2:-1])
        except ValueError:
            p = -1.0
        if not 0 <= p <= 100:
            problems.append(
                f"invalid percentile trend stat value '{stat}', provide a number between 0 and 100"
            )
    return problems


def is_observed(name: str, entry: MetricEntry, metrics: Mapping[str, MetricEntry]) -> bool:
    """§0.5: sampled, or it (or one of its sub-metrics) has thresholds."""
    if entry.thresholds or (entry.sink is not None and not entry.sink.empty):
        return True
    prefix = name + "{"
    return any(k.startswith(prefix) and e.thresholds for k, e in metrics.items())


def metric_values(
    entry: MetricEntry, trend_stats: Sequence[str], elapsed_s: float
) -> dict[str, Any]:
    """The `values` object of one metric; an absent sink gives k6's zero values."""
    sink = entry.sink if entry.sink is not None else new_sink(entry.type)
    values: dict[str, Any] = dict(sink.summary_values(list(trend_stats), elapsed_s))
    if entry.type is MetricType.RATE:
        values["passes"] = int(values.get("passes", 0))
        values["fails"] = int(values.get("fails", 0))
    return values


_PERCENTILE_SOURCE = re.compile(r"^p\((\d+(?:\.\d+)?)\)\s*([<>=])")


def threshold_values(
    metrics: Mapping[str, MetricEntry], elapsed_s: float
) -> dict[str, dict[str, float]]:
    """Values of `p(N)` threshold aggregations, keyed as the source spells them (`p(99.90)`).

    k6 shows them in the THRESHOLDS section even when N is not a summary trend stat.
    """
    out: dict[str, dict[str, float]] = {}
    for name, entry in metrics.items():
        if entry.type is not MetricType.TREND or not entry.thresholds:
            continue
        sink = entry.sink if entry.sink is not None else new_sink(entry.type)
        for source, _ in entry.thresholds:
            m = _PERCENTILE_SOURCE.match(source.strip())
            if m:
                key = f"p({go_float(float(m.group(1)))})"
                value = sink.aggregate(key, elapsed_s)
                out.setdefault(name, {})[f"p({m.group(1)})"] = value or 0.0
    return out


def build_metrics(
    metrics: Mapping[str, MetricEntry], trend_stats: Sequence[str], elapsed_s: float
) -> dict[str, Any]:
    """The `metrics` object: observed metrics and sub-metrics only."""
    out: dict[str, Any] = {}
    for name, entry in metrics.items():
        if not is_observed(name, entry, metrics):
            continue
        m: dict[str, Any] = {
            "type": entry.type.value,
            "contains": entry.contains.value,
            "values": metric_values(entry, trend_stats, elapsed_s),
        }
        if entry.thresholds:
            m["thresholds"] = {src: {"ok": bool(ok)} for src, ok in entry.thresholds}
        out[name] = m
    return out


def build_summary(
    metrics: Mapping[str, MetricEntry],
    groups: GroupTree,
    *,
    test_run_duration_ms: float,
    options: SummaryOptions | None = None,
    is_stdout_tty: bool = False,
    is_stderr_tty: bool = False,
    setup_data: Any = NO_SETUP_DATA,
    extra: Mapping[str, Any] | None = None,
    no_samples: Iterable[str] = (),
) -> Summary:
    """Assemble the handleSummary data (+ text-only extras) at the end of a run.

    `metrics` maps metric and sub-metric names (`http_req_duration{status:200}`) to entries;
    `extra`, if given, becomes a top-level `loadgen` section (beyond k6); `no_samples`
    names the metrics whose thresholds the judge failed for want of any sample.
    """
    opts = options or SummaryOptions()
    elapsed_s = test_run_duration_ms / 1000.0
    data: dict[str, Any] = {
        "root_group": groups.to_data(),
        "options": {
            "summaryTrendStats": list(opts.trend_stats),
            "summaryTimeUnit": opts.time_unit,
            "noColor": opts.no_color,
        },
        "state": {
            "isStdOutTTY": is_stdout_tty,
            "isStdErrTTY": is_stderr_tty,
            "testRunDurationMs": test_run_duration_ms,
        },
        "metrics": build_metrics(metrics, opts.trend_stats, elapsed_s),
    }
    if setup_data is not NO_SETUP_DATA:
        data["setup_data"] = setup_data
    if extra is not None:
        data["loadgen"] = dict(extra)
    observed = {k: v for k, v in metrics.items() if k in data["metrics"]}
    return Summary(data, threshold_values(observed, elapsed_s), groups.flat_checks(),
                   frozenset(no_samples))
