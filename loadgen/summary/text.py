"""k6 v1.1.0's end-of-test text summary, compact layout, byte for byte (k6-compat.md §2.3-2.4).

CI logs get diffed and grepped, so the layout copies k6's summary.js including its quirks:
the metric name counted twice in the dot-padding width, the `!=` threshold shown as
`count!=<rate>/s`, prefix-based hiding and sectioning of metric names, and column padding that
leaves trailing spaces. Input is the handleSummary data object (build.py) — the same object
k6 renders — plus the `p(N)` threshold values and name-merged checks it does not contain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen.summary.build import Summary
from loadgen.summary.groups import FlatCheck, GroupTree
from loadgen.summary.humanize import humanize_value, js_str, sort_metric_names, str_width
from loadgen.summary.target import target_names, target_rows

_HIDDEN_COMPACT = ("checks", "group_duration", "http_req_blocked", "http_req_connecting",
                   "http_req_receiving", "http_req_sending", "http_req_tls_handshaking",
                   "http_req_waiting")
_HTTP = ("http_reqs", "http_req_failed", "http_req_duration", "http_req_blocked",
         "http_req_connecting", "http_req_tls_handshaking", "http_req_sending",
         "http_req_waiting", "http_req_receiving")
# k6's execution metrics, plus loadgen's open-model trends (beyond k6; would be CUSTOM there).
_EXECUTION = ("vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations",
              "iteration_lag", "iteration_latency")
_NETWORK = ("data_sent", "data_received")
# Section order of k6's Metrics struct; CUSTOM is moved to the front when rendering.
_SECTIONS = ("http", "execution", "network", "browser", "web_vitals", "grpc", "websocket")
_COLORS = {"red": "31", "green": "32", "cyan": "36", "white": "37"}
_STYLES = {"bold": "1", "faint": "2"}

Metric = Mapping[str, Any]


def section_of(name: str) -> str | None:
    """The TOTAL RESULTS section of a metric name (prefix match, like k6); None if hidden."""
    if name.startswith(_HIDDEN_COMPACT):
        return None
    if name.startswith(_HTTP):
        return "http"
    if name.startswith(_EXECUTION):
        return "execution"
    if name.startswith(_NETWORK):
        return "network"
    if name.startswith("browser_web_vital_"):
        return "web_vitals"
    if name.startswith("browser_"):
        return "browser"
    if name.startswith("grpc_"):
        return "grpc"
    if name.startswith("ws_"):
        return "websocket"
    return "custom"


@dataclass(frozen=True)
class _Fmt:
    colors: bool

    def deco(self, text: str, color: str, *styles: str) -> str:
        if not self.colors:
            return text
        codes = ";".join([_STYLES[s] for s in styles] + [_COLORS.get(color, "37")])
        return f"\x1b[{codes}m{text}\x1b[0m"

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.colors else text


def _indent(level: int) -> str:
    return "  " * level


def display_name(name: str) -> str:
    """`name` for a metric, `  { sel }` for a sub-metric."""
    i = name.find("{")
    return name if i < 0 else "  { " + name[i + 1 : -1] + " }"


@dataclass
class _Info:
    """k6 computeSummaryInfo: every width of one block, computed over all its metrics."""

    trend_stats: Sequence[str]
    max_name: int = 0
    values: dict[str, str] = field(default_factory=dict)
    extras: dict[str, list[str]] = field(default_factory=dict)
    trend_cols: dict[str, list[str]] = field(default_factory=dict)
    trend_keys: dict[str, dict[str, str]] = field(default_factory=dict)
    trend_max: list[int] = field(default_factory=list)
    value_max: int = 0
    extra_max: list[int] = field(default_factory=list)


def _non_trend(m: Metric, unit: str | None) -> list[str]:
    t, c, v = m["type"], m.get("contains", "default"), m.get("values", {})
    if t == "counter":
        return [humanize_value(v.get("count"), t, c, unit),
                humanize_value(v.get("rate"), t, c, unit) + "/s"]
    if t == "gauge":
        return [humanize_value(v.get("value"), t, c, unit),
                "min=" + humanize_value(v.get("min"), t, c, unit),
                "max=" + humanize_value(v.get("max"), t, c, unit)]
    if t == "rate":
        passes, fails = v.get("passes"), v.get("fails")
        total = None if passes is None or fails is None else passes + fails
        return [humanize_value(v.get("rate"), t, c, unit),
                f"{js_str(passes)} out of {js_str(total)}"]
    return ["[no data]"]


def _trend_value(v: Any, stat: str, m: Metric, unit: str | None) -> str:
    if stat == "count":
        return js_str(v)
    if v == math.inf:  # the rank falls among unserved work (dropped/interrupted arrivals)
        return "unserved"
    return humanize_value(v, m["type"], m.get("contains", "default"), unit)


def _info(metrics: Mapping[str, Metric], level: int, stats: Sequence[str],
          unit: str | None, display: Callable[[str], str] = display_name) -> _Info:
    info = _Info(stats, trend_max=[0] * len(stats))
    for name, m in metrics.items():
        info.max_name = max(info.max_name, str_width(_indent(level) + name + display(name)))
        values = m.get("values", {})
        if m["type"] == "trend":
            info.trend_keys[name] = {k: _trend_value(x, k, m, unit)
                                     for k, x in values.items() if k not in stats}
            cols = [_trend_value(values.get(s), s, m, unit) for s in stats]
            info.trend_max = [max(w, str_width(c)) for w, c in zip(info.trend_max, cols,
                                                                     strict=True)]
            info.trend_cols[name] = cols
            continue
        main, *extras = _non_trend(m, unit)
        info.values[name] = main
        info.value_max = max(info.value_max, str_width(main))
        info.extras[name] = extras
        for i, x in enumerate(extras):
            if i >= len(info.extra_max):
                info.extra_max.append(str_width(x))
            else:
                info.extra_max[i] = max(info.extra_max[i], str_width(x))
    return info


def _metric_line(name: str, m: Metric, info: _Info, level: int, fmt: _Fmt,
                 display: Callable[[str], str] = display_name) -> str:
    shown = display(name)
    dots = info.max_name - str_width(shown) - len(_indent(level)) + 3
    dotted = shown + fmt.deco("." * dots + ":", "white", "faint")
    if m["type"] == "trend":
        data = " ".join(
            f"{stat}={fmt.deco(col, 'cyan')}{' ' * (info.trend_max[i] - str_width(col))}"
            for i, (stat, col) in enumerate(zip(info.trend_stats, info.trend_cols[name],
                                                strict=True)))
    else:
        value, extras = info.values[name], info.extras[name]
        data = fmt.deco(value, "cyan") + " " * (info.value_max - str_width(value))
        if len(extras) == 1:
            data += " " + fmt.deco(extras[0], "cyan", "faint")
        elif extras:
            data += " " + " ".join(
                fmt.deco(x, "cyan", "faint") + " " * (info.extra_max[i] - str_width(x))
                for i, x in enumerate(extras))
    return _indent(level) + dotted + " " + data


def _threshold_value(m: Metric, name: str, source: str, info: _Info, fmt: _Fmt) -> str:
    agg = re.split(r"[=><]", source)[0].strip()
    value: str | None
    if " over " in agg:  # a windowed threshold: the breaking (or last) window's value
        return _window_value(m, agg, fmt)
    if m["type"] == "trend":
        stats = list(info.trend_stats)
        value = (info.trend_cols[name][stats.index(agg)] if agg in stats
                 else info.trend_keys[name].get(agg))
    elif m["type"] == "counter":
        value = info.values[name] if agg == "count" else info.extras[name][0]
    else:
        value = info.values[name]
    if value is None:  # JS: [a, undefined].join("=") drops it; decorate() prints it
        value = "undefined" if fmt.colors else ""
    return fmt.deco(agg, "white") + "=" + fmt.deco(value, "cyan")


def _window_value(m: Metric, agg: str, fmt: _Fmt) -> str:
    """`p(99) over 1m=312ms`, or `?` when no window was ever full (undecided)."""
    raw = m.get("values", {}).get(agg)
    if raw is None:
        return fmt.deco(agg, "white") + "=" + fmt.deco("? (no full window: undecided)", "red")
    contains = m.get("contains", "default")
    if raw == math.inf:  # an open-model window whose rank fell among unserved iterations
        return fmt.deco(agg, "white") + "=" + fmt.deco("unserved", "cyan")
    if m["type"] == "counter":
        text = humanize_value(raw, "counter", contains, None)
        text += "" if agg.startswith("count") else "/s"
    else:
        text = humanize_value(raw, m["type"], contains, None)
    return fmt.deco(agg, "white") + "=" + fmt.deco(text, "cyan")


def _thresholds(metrics: Mapping[str, Metric], extra: Mapping[str, Mapping[str, float]],
                stats: Sequence[str], unit: str | None, fmt: _Fmt,
                no_samples: Collection[str] = ()) -> list[str]:
    with_values = {name: {**m, "values": {**m.get("values", {}), **extra.get(name, {})}}
                   for name, m in metrics.items()}
    info = _info(with_values, 2, stats, unit)
    out: list[str] = []
    for name in sort_metric_names(list(with_values)):
        parent = name.split("{", 1)[0]
        nested = len(name) > len(parent) and parent in with_values
        level = 3 if nested else 2
        out.append(_indent(level) + (name[len(parent):] if nested else name))
        m = with_values[name]
        for source, result in m.get("thresholds", {}).items():
            ok = result["ok"] if isinstance(result, Mapping) else bool(result)
            mark = fmt.deco("✓", "green") if ok else fmt.deco("✗", "red")
            text = fmt.deco(f"'{source.strip()}'", "white")
            shown = (fmt.deco("(no samples: nothing to judge, counted as failed)", "red")
                     if name in no_samples else _threshold_value(m, name, source, info, fmt))
            out.append(_indent(level) + " ".join([mark, text, shown]))
        out.append("\n")
    return out


def _check_line(c: FlatCheck, fmt: _Fmt) -> str:
    if c.fails == 0:
        return _indent(2) + fmt.deco(f"✓ {c.name}", "green")
    pct = (100 * c.passes) // (c.passes + c.fails)
    detail = f"↳  {pct}% — ✓ {c.passes} / ✗ {c.fails}"
    return (_indent(2) + fmt.deco(f"✗ {c.name}", "red") + "\n"
            + _indent(3) + fmt.deco(detail, "red"))


def _checks(checks_metric: Metric, checks: Sequence[FlatCheck], duration_ms: float,
            stats: Sequence[str], fmt: _Fmt) -> list[str]:
    v = checks_metric.get("values", {})
    passes, fails = v.get("passes", 0), v.get("fails", 0)
    total = passes + fails
    secs = duration_ms / 1000
    metrics: dict[str, Metric] = {
        "checks_total": {"type": "counter", "contains": "default",
                         "values": {"count": total, "rate": total / secs if secs else 0}},
        "checks_succeeded": {"type": "rate", "contains": "default", "values": dict(v)},
        "checks_failed": {"type": "rate", "contains": "default", "values": {
            "passes": fails, "fails": passes,
            "rate": fails / total if total else float("nan")}},
    }
    info = _info(metrics, 2, stats, None)
    lines = [_metric_line(n, m, info, 2, fmt) for n, m in metrics.items()]
    return [*lines, "\n", *(_check_line(c, fmt) for c in checks), "\n"]


def _metric_sections(metrics: Mapping[str, Metric], stats: Sequence[str], unit: str | None,
                     fmt: _Fmt, target: set[str] | None = None) -> list[str]:
    """k6's sections; metrics named in `target` (and their sub-metrics) are left out."""
    sections: dict[str, dict[str, Metric]] = {s: {} for s in ("custom", *_SECTIONS)}
    for name, m in metrics.items():
        if target and name.split("{", 1)[0] in target:
            continue
        sec = section_of(name)
        if sec is not None:
            sections[sec][name] = m
    shown = {n: m for sec in sections.values() for n, m in sec.items()}
    info = _info(shown, 2, stats, unit)
    out: list[str] = []
    for sec, members in sections.items():
        if not members:
            continue
        out.append(_indent(2) + fmt.bold(sec.upper()))
        out.extend(_metric_line(n, members[n], info, 2, fmt)
                   for n in sort_metric_names(list(members)))
        out.append("\n")
    return out


def _target_section(data: Mapping[str, Any], stats: Sequence[str], unit: str | None,
                    fmt: _Fmt) -> list[str]:
    """TARGET (beyond k6): process gauges and scraped series, per label set."""
    rows = target_rows(data)
    if not rows:
        return []
    lines = {name: m for row in rows if not isinstance(row, str) for name, m in [row]}
    info = _info(lines, 2, stats, unit, display=lambda _: "")  # no doubled-name padding
    out = [_indent(2) + fmt.bold("TARGET")]
    for row in rows:
        out.append(_indent(2) + fmt.deco(row, "white", "faint") if isinstance(row, str)
                   else _metric_line(row[0], row[1], info, 2, fmt, display=str))
    return [*out, "\n"]


def render_text(
    data: Mapping[str, Any],
    *,
    threshold_values: Mapping[str, Mapping[str, float]] | None = None,
    checks: Sequence[FlatCheck] | None = None,
    colors: bool = False,
    no_samples: Collection[str] = (),
) -> str:
    """The whole text summary as k6 prints it to stdout (starts with "\\n", ends "\\n\\n\\n").

    `checks` defaults to a depth-first walk of `data["root_group"]`; pass the engine's
    first-seen list (GroupTree.flat_checks()) when available. Colours only for a TTY.
    """
    fmt = _Fmt(colors)
    options = data.get("options", {})
    stats = list(options.get("summaryTrendStats") or [])
    unit = options.get("summaryTimeUnit") or None
    metrics: Mapping[str, Metric] = data.get("metrics", {})
    if checks is None:
        checks = GroupTree.from_data(data.get("root_group", {})).flat_checks()
    sections: list[tuple[str, list[str]]] = []
    with_thresholds = {n: m for n, m in metrics.items() if m.get("thresholds")}
    if with_thresholds:
        sections.append(("THRESHOLDS", _thresholds(with_thresholds, threshold_values or {},
                                                   stats, unit, fmt, no_samples)))
    total: list[str] = []
    if "checks" in metrics:
        duration_ms = float(data.get("state", {}).get("testRunDurationMs", 0))
        total += _checks(metrics["checks"], checks, duration_ms, stats, fmt)
    total += _metric_sections(metrics, stats, unit, fmt, target_names(data))
    total += _target_section(data, stats, unit, fmt)
    sections.append(("TOTAL RESULTS", total))
    body = ""
    for title, content in sections:
        for part in [_indent(1) + f"█ {fmt.bold(title)} \n", *content, "\n"]:
            body += part if part == "\n" else "\n" + part
    return "\n" + body + "\n\n"


def render_summary_text(summary: Summary, *, colors: bool = False) -> str:
    """render_text for a built Summary (uses its threshold values and first-seen checks)."""
    return render_text(summary.data, threshold_values=summary.threshold_values,
                       checks=summary.checks, colors=colors, no_samples=summary.no_samples)
