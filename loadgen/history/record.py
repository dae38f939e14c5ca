"""One run as history keeps it: when, which label, which commit, the options, the statistics
per metric and per endpoint, the thresholds with their observed values, the exit code and the
generator's health.

A record is built from the summary data (the `--summary-json` object or a `--summary-export`
file: the same reader `loadgen check` uses), so a live run, a stored summary file and a merged
archive all become the same thing and `compare`/`trend` never care where a run came from. A
live run also hands over its sinks, so p99 is kept even when it is not a summary trend stat.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen.commands.check import SummaryMetric, check_summary, read_summary
from loadgen.metrics.model import MetricType
from loadgen.net.redact import redact
from loadgen.thresholds import parse_spec

#: every statistic history keeps; `value` is a rate metric's fraction, `last`/`peak` a gauge's
STATS = ("count", "rate", "error_rate", "value", "avg", "p50", "p90", "p95", "p99", "max",
         "last", "peak")
LATENCY_STATS = ("avg", "p50", "p90", "p95", "p99", "max")
#: summary keys -> history's stat names (trend columns as k6 spells them)
_TREND_KEYS = {"avg": "avg", "med": "p50", "p(50)": "p50", "p(90)": "p90", "p(95)": "p95",
               "p(99)": "p99", "max": "max", "count": "count"}
EXACT_TREND_STATS = ["count", "avg", "med", "p(90)", "p(95)", "p(99)", "max"]
GIT_TIMEOUT_S = 2.0

Key = tuple[str, str]  # (scope "metric" | "endpoint", name)


@dataclass
class ThresholdRow:
    metric: str
    source: str
    ok: bool
    observed: float | None = None  # None: the summary could not say


@dataclass
class RunRecord:
    started_at: str  # ISO 8601 UTC
    label: str
    exit_code: int
    duration_s: float = 0.0
    git_commit: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    stats: dict[Key, dict[str, float]] = field(default_factory=dict)
    thresholds: list[ThresholdRow] = field(default_factory=list)
    generator: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, Any] = field(default_factory=dict)
    slo: dict[str, Any] = field(default_factory=dict)
    #: trend metrics whose values are not times (custom `Trend`s): shown without "ms"
    untimed: list[str] = field(default_factory=list)
    id: int | None = None

    def is_time(self, scope: str, name: str) -> bool:
        return scope == "endpoint" or name not in self.untimed

    @property
    def verdict(self) -> str:
        return verdict_word(self.exit_code)

    def failed_thresholds(self) -> list[ThresholdRow]:
        return [t for t in self.thresholds if not t.ok]

    def observed_text(self, t: ThresholdRow) -> str:
        """A threshold's observed value as the summary shows it: ms for a latency trend's
        statistic, a percentage for a rate metric, else the number."""
        v = t.observed
        if v is None:
            return "-"
        if math.isinf(v):
            return "unserved"
        stats = self.stats.get(("metric", t.metric), {})
        if "p50" in stats and t.source.strip().startswith(("p(", "avg", "med", "min", "max")):
            return f"{v:.2f}ms" if t.metric not in self.untimed else f"{v:g}"
        if "value" in stats and t.source.strip().startswith("rate"):
            return f"{v * 100:.2f}%"
        return f"{v:g}"

    def endpoints(self) -> list[tuple[str, dict[str, float]]]:
        return [(k[1], v) for k, v in self.stats.items() if k[0] == "endpoint"]

    def describe(self) -> str:
        """A one-line name for tables and messages."""
        where = f"#{self.id} " if self.id is not None else ""
        return f"{where}{self.label} {self.started_at}"


def verdict_word(code: int) -> str:
    return {0: "passed", 99: "failed", 105: "interrupted", 110: "test failed"}.get(
        code, f"error {code}")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_commit(cwd: str | None = None) -> str | None:
    """HEAD of the git checkout we run in; None outside one, without git, or when git does
    not answer within GIT_TIMEOUT_S (a hung network file system must not hold the run)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=cwd,
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                              check=False)
        sha = done.stdout.strip()
        if done.returncode == 0 and len(sha) in (40, 64) and all(
                c in "0123456789abcdef" for c in sha):
            return sha
    return None


def metric_stats(m: SummaryMetric) -> dict[str, float]:
    """One metric's summary values under history's stat names."""
    v = m.values
    out: dict[str, float] = {}
    if m.type is MetricType.TREND:
        for key, stat in _TREND_KEYS.items():
            if key in v:
                out[stat] = v[key]
    elif m.type is MetricType.COUNTER:
        out.update({s: v[s] for s in ("count", "rate") if s in v})
    elif m.type is MetricType.RATE:
        if "rate" in v:
            out["value"] = v["rate"]
        if "passes" in v and "fails" in v:
            out["count"] = v["passes"] + v["fails"]
    elif "value" in v:
        out["last"] = v["value"]
        if "max" in v:
            out["peak"] = v["max"]
    return out


def _finite_or_inf(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if not math.isnan(x) else None


def endpoint_stats(rows: Any) -> dict[Key, dict[str, float]]:
    """`loadgen.endpoints` rows (when the run built them) as endpoint-scope stats."""
    out: dict[Key, dict[str, float]] = {}
    if not isinstance(rows, list):
        return out
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        stats = {s: f for s in STATS if (f := _finite_or_inf(row.get(s))) is not None}
        if stats:
            out[("endpoint", row["name"])] = stats
    return out


def threshold_rows(doc: Mapping[str, Any], observed: Mapping[Key, float] | None = None,
                   ) -> list[ThresholdRow]:
    """Every threshold of the summary with its verdict and, where known, the value judged:
    `observed` (a live run's sinks, by (metric, source)) first, else what the summary holds."""
    rows: list[ThresholdRow] = []
    raw: dict[str, list[str]] = {}
    metrics = doc.get("metrics")
    for name, m in (metrics.items() if isinstance(metrics, Mapping) else ()):
        ths = m.get("thresholds") if isinstance(m, Mapping) else None
        if not isinstance(ths, Mapping):
            continue
        for src, t in ths.items():
            # handleSummary: {"ok": bool}; the legacy export: a bare bool, true = failed
            ok = bool(t.get("ok")) if isinstance(t, Mapping) else not bool(t)
            rows.append(ThresholdRow(str(name), str(src), ok))
            raw.setdefault(str(name), []).append(str(src))
    values: dict[Key, float | None] = {}
    with contextlib.suppress(Exception):  # a threshold the summary cannot answer: no value
        for v in check_summary(doc, raw).verdicts:
            values[(v.metric, v.source)] = v.value
    for r in rows:
        key = (r.metric, r.source)
        r.observed = (observed or {}).get(key, values.get(key))
    return rows


def from_summary(doc: Mapping[str, Any], *, label: str, exit_code: int | None = None,
                 started_at: str | None = None, options: dict[str, Any] | None = None,
                 commit: str | None = None, exact: Mapping[str, SummaryMetric] | None = None,
                 observed: Mapping[Key, float] | None = None) -> RunRecord:
    """A record from summary data; `exact`: a live run's metrics with every statistic (its
    sinks), preferred to the summary's own columns."""
    metrics = dict(read_summary(doc))
    metrics.update(exact or {})
    ext = doc.get("loadgen") if isinstance(doc.get("loadgen"), Mapping) else {}
    assert isinstance(ext, Mapping)
    state = doc.get("state") if isinstance(doc.get("state"), Mapping) else {}
    assert isinstance(state, Mapping)
    outcome = ext.get("outcome") if isinstance(ext.get("outcome"), Mapping) else {}
    assert isinstance(outcome, Mapping)
    if exit_code is None:
        exit_code = int(outcome.get("exit_code", 0) or 0)
        if any(not t.ok for t in threshold_rows(doc)) and exit_code == 0:
            exit_code = 99
    stats: dict[Key, dict[str, float]] = {}
    for name, m in metrics.items():
        s = metric_stats(m)
        if s:
            stats[("metric", name)] = s
    stats.update(endpoint_stats(ext.get("endpoints")))
    duration = state.get("testRunDurationMs", 0)
    return RunRecord(
        started_at=started_at or now_iso(), label=label, exit_code=int(exit_code),
        duration_s=float(duration) / 1000 if isinstance(duration, int | float) else 0.0,
        git_commit=commit, options=dict(options or {}), stats=stats,
        thresholds=threshold_rows(doc, observed),
        generator=dict(ext.get("generator") or {}) if isinstance(
            ext.get("generator"), Mapping) else {},
        verdicts=dict(ext["verdicts"]) if isinstance(ext.get("verdicts"), Mapping) else {},
        slo=dict(ext["slo"]) if isinstance(ext.get("slo"), Mapping) else {},
        untimed=sorted(n for n, m in metrics.items()
                       if m.type is MetricType.TREND and m.contains != "time"))


def exact_metrics(entries: Mapping[str, Any], elapsed_s: float,
                  ) -> tuple[dict[str, SummaryMetric], dict[Key, float]]:
    """From a live run's metric entries (summary/build.MetricEntry): every trend's full set
    of statistics, and each threshold's observed value, straight from the sinks."""
    out: dict[str, SummaryMetric] = {}
    observed: dict[Key, float] = {}
    for name, e in entries.items():
        sink = getattr(e, "sink", None)
        if sink is None or sink.empty:
            continue
        with contextlib.suppress(Exception):  # history is never worth a lost run
            if e.type is MetricType.TREND:
                out[name] = SummaryMetric(e.type, dict(sink.summary_values(
                    EXACT_TREND_STATS, elapsed_s)), e.contains.value)
            for src, _ok in e.thresholds:
                key = parse_spec(src, name).expression.sink_key
                value = sink.aggregate(key, elapsed_s)
                if value is not None:
                    observed[(name, src)] = float(value)
    return out, observed


def safe_options(kw: Mapping[str, Any]) -> dict[str, Any]:
    """The command line worth keeping, without secrets: env values, header values, tokens and
    bodies are left out; URLs lose their passwords."""
    out: dict[str, Any] = {}
    for k, v in kw.items():
        if v in (None, False, (), [], "") or k in ("fleet_token", "body", "webhook"):
            continue
        if k == "env":
            v = [str(x).partition("=")[0] + "=***" for x in v]
        elif k == "headers":
            v = [str(x).partition(":")[0] + ": ***" for x in v]
        elif isinstance(v, tuple | list):
            v = [redact(str(x)) if isinstance(x, str) else x for x in v]
        elif isinstance(v, str):
            v = redact(v)
        elif not isinstance(v, int | float | bool):
            v = str(v)
        out[k] = v
    return out


def default_label(file: str | None) -> str:
    """The scenario file's stem; `loadgen http`'s "METHOD URL" keeps method, host and path."""
    if not file:
        return "run"
    method, _, url = file.partition(" ")
    if url and "://" in url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return f"{method} {parts.hostname or ''}{(':' + str(parts.port)) if parts.port else ''}" \
               f"{parts.path or '/'}"
    return Path(file).stem or "run"

