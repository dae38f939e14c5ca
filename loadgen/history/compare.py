"""Two runs side by side: the delta of every statistic, judged by direction (latency up is
worse, throughput up is better, errors up are worse), and `--fail-on` rules that turn a
regression into exit 99.

A rule reads `[TARGET.]STAT OP CHANGE`: `p95>+10%` (fail when p95 grew by more than 10%),
`rate<-10%` (throughput fell by more than 10%), `error_rate>+1pp` (error rate up by more than
one percentage point), `http_req_duration.p99>+50ms` (an absolute change), with TARGET a
metric (`http_req_duration`, `http_req_duration{status:200}`) or `endpoint:NAME`. Without a
target a rule covers the key rows: every endpoint, `http_req_duration` (latencies),
`http_reqs` (rate, count) and `http_req_failed` (error_rate).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from loadgen.errors import ConfigError, ExitCode
from loadgen.history.record import LATENCY_STATS, STATS, Key, RunRecord

DEFAULT_RULES = ("p95>+10%", "p99>+20%", "error_rate>+1pp", "rate<-10%")
_BAD_WORDS = ("fail", "error", "dropped", "lost", "duplicat", "corrupt", "saturated",
              "unexpected", "timeout", "lag", "unserved")
_GOOD_WORDS = ("checks", "delivered")
_ALIASES = {"med": "p50", "p(50)": "p50", "p(90)": "p90", "p(95)": "p95", "p(99)": "p99"}
_RULE = re.compile(r"^\s*(?:(?P<target>.+)\.)?(?P<stat>[a-z0-9_()]+)\s*(?P<op>[<>])\s*"
                   r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>%|pp|ms)?\s*$")
#: a key row's own stat for an untargeted rule's (error_rate -> http_req_failed's value)
_KEY_METRICS = {"http_req_duration": {s: s for s in LATENCY_STATS},
                "http_reqs": {"rate": "rate", "count": "count"},
                "http_req_failed": {"error_rate": "value"}}


def direction(key: Key, stat: str) -> int:
    """+1: higher is better, -1: higher is worse, 0: neither (a gauge, a custom count)."""
    name = key[1].lower()
    bad = any(w in name for w in _BAD_WORDS)
    good = any(w in name for w in _GOOD_WORDS)
    if stat == "error_rate":
        return -1
    if stat in LATENCY_STATS:
        return -1
    if stat == "value":
        return -1 if bad else 1 if good else 0
    if stat in ("last", "peak"):
        return 0
    if stat in ("rate", "count"):
        return -1 if bad else 1 if key[0] == "endpoint" or name in ("http_reqs", "iterations",
                                                                     "data_received") else 0
    return 0


@dataclass(frozen=True)
class Rule:
    source: str
    target: str | None  # None: the key rows
    stat: str
    op: str  # ">" fail when the change is above, "<" below
    limit: float
    unit: str  # "%" relative, "pp" percentage points of a fraction, "" / "ms" absolute

    def change(self, base: float, cur: float) -> float:
        if self.unit == "%":
            return relative(base, cur) * 100
        if self.unit == "pp":
            return (cur - base) * 100
        return cur - base

    def broken(self, base: float, cur: float) -> bool:
        c = self.change(base, cur)
        if math.isnan(c):
            return False
        return c > self.limit if self.op == ">" else c < self.limit

    def matches(self, key: Key) -> str | None:
        """The stat of `key` this rule reads, or None."""
        scope, name = key
        if self.target is None:
            if scope == "endpoint":
                return self.stat
            return _KEY_METRICS.get(name, {}).get(self.stat)
        if self.target.startswith("endpoint:"):
            return self.stat if scope == "endpoint" and name == self.target[9:] else None
        if scope == "metric" and name == self.target:
            return "value" if self.stat == "error_rate" else self.stat
        return None


def parse_rule(text: str) -> Rule:
    m = _RULE.match(text)
    if not m:
        raise ConfigError(f"--fail-on {text!r}: not a rule (write e.g. \"p95>+10%\", "
                          "\"rate<-10%\", \"error_rate>+1pp\", \"http_req_duration.p99>+50ms\")")
    stat = _ALIASES.get(m["stat"], m["stat"])
    if stat not in STATS:
        raise ConfigError(f"--fail-on {text!r}: unknown statistic {m['stat']!r} (one of "
                          f"{', '.join(STATS)})")
    unit = m["unit"] or ""
    if unit == "ms" and stat not in LATENCY_STATS:
        raise ConfigError(f"--fail-on {text!r}: ms is for latencies, not {stat}")
    if unit == "pp" and stat not in ("error_rate", "value"):
        raise ConfigError(f"--fail-on {text!r}: pp (percentage points) is for error_rate and "
                          "rate metrics' value")
    return Rule(text.strip(), m["target"], stat, m["op"], float(m["num"]), unit)


def parse_rules(texts: list[str] | tuple[str, ...]) -> list[Rule]:
    problems, rules = [], []
    for t in texts or DEFAULT_RULES:
        try:
            rules.append(parse_rule(t))
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(problems)
    return rules


def relative(base: float, cur: float) -> float:
    """(cur - base) / base; +-inf from zero; nan when both are infinite."""
    if base == cur:
        return 0.0
    if base == 0:
        return math.copysign(math.inf, cur)
    if math.isinf(base) or math.isinf(cur):
        return math.nan if math.isinf(base) and math.isinf(cur) else (
            math.inf if math.isinf(cur) else -1.0)
    return (cur - base) / abs(base)


@dataclass
class Row:
    key: Key
    stat: str
    base: float | None
    current: float | None
    direction: int
    broken: list[str] = field(default_factory=list)  # rules this row breaks
    time: bool = True  # latency statistics in ms (False: a custom trend of other values)

    @property
    def delta(self) -> float | None:
        if self.base is None or self.current is None:
            return None
        return self.current - self.base

    @property
    def delta_pct(self) -> float | None:
        if self.base is None or self.current is None:
            return None
        return relative(self.base, self.current) * 100

    @property
    def judgement(self) -> str:
        """worse | better | same | changed (no direction) | missing."""
        d = self.delta
        if d is None:
            return "missing"
        if d == 0 or (math.isnan(d) if isinstance(d, float) else False):
            return "same"
        if self.direction == 0:
            return "changed"
        return "better" if (d > 0) == (self.direction > 0) else "worse"

    def to_json(self) -> dict[str, Any]:
        pct = self.delta_pct
        return {"scope": self.key[0], "name": self.key[1], "stat": self.stat,
                "base": _num(self.base), "current": _num(self.current),
                "delta": _num(self.delta),
                "delta_pct": None if pct is None or not math.isfinite(pct) else pct,
                "direction": self.direction, "judgement": self.judgement,
                "broken": list(self.broken)}


def _num(x: float | None) -> float | str | None:
    if x is None:
        return None
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


@dataclass
class Comparison:
    base: RunRecord
    current: RunRecord
    rows: list[Row]
    rules: list[Rule]
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.broken]

    @property
    def exit_code(self) -> int:
        return ExitCode.THRESHOLDS_FAILED if self.regressions else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {"base": describe_json(self.base), "current": describe_json(self.current),
                "rules": [r.source for r in self.rules],
                "regressions": [{"name": r.key[1], "scope": r.key[0], "stat": r.stat,
                                 "rules": r.broken} for r in self.regressions],
                "rows": [r.to_json() for r in self.rows], "notes": self.notes,
                "exit_code": self.exit_code}


def describe_json(rec: RunRecord) -> dict[str, Any]:
    return {"id": rec.id, "label": rec.label, "started_at": rec.started_at,
            "git_commit": rec.git_commit, "exit_code": rec.exit_code}


def compare(base: RunRecord, current: RunRecord, rules: list[Rule]) -> Comparison:
    rows: list[Row] = []
    notes: list[str] = []
    keys = list(dict.fromkeys([*base.stats, *current.stats]))
    keys.sort(key=lambda k: (k[0] != "endpoint", k[1]))
    for key in keys:
        b, c = base.stats.get(key), current.stats.get(key)
        if b is None or c is None:
            notes.append(f"{key[0]} {key[1]}: only in the "
                         f"{'current' if b is None else 'base'} run")
            continue
        for stat in STATS:
            if stat not in b and stat not in c:
                continue
            row = Row(key, stat, b.get(stat), c.get(stat), direction(key, stat),
                      time=base.is_time(*key) and current.is_time(*key))
            if row.base is not None and row.current is not None:
                row.broken = [r.source for r in rules if r.matches(key) == stat
                              and r.broken(row.base, row.current)]
            rows.append(row)
    return Comparison(base, current, rows, rules, notes)


# -- the table ----------------------------------------------------------------------------
_GREEN, _RED, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[0m"


def fmt_value(stat: str, v: float | None, time: bool = True) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "unserved" if v > 0 else "-inf"
    if stat in LATENCY_STATS and time:
        return f"{v:.2f}ms" if abs(v) >= 0.01 or v == 0 else f"{v * 1000:.2f}µs"
    if stat in ("error_rate", "value"):
        return f"{v * 100:.2f}%"
    if stat == "rate":
        return f"{v:.2f}/s"
    return f"{v:g}"


def fmt_delta(row: Row) -> str:
    d, pct = row.delta, row.delta_pct
    if d is None or pct is None:
        return "-"
    if row.stat in ("error_rate", "value"):
        return f"{d * 100:+.2f}pp"
    if math.isnan(pct):
        return "="
    return f"{pct:+.1f}%" if math.isfinite(pct) else ("+inf" if pct > 0 else "-inf")


def render(cmp: Comparison, *, color: bool = False, all_rows: bool = False) -> str:
    """The delta table: key rows (and any row a rule broke) unless `all_rows`."""
    head = (f"base:    {cmp.base.describe()} ({cmp.base.verdict})\n"
            f"current: {cmp.current.describe()} ({cmp.current.verdict})\n")
    shown = [r for r in cmp.rows if all_rows or r.broken or is_key_row(r)]
    cells = [("", "name", "stat", "base", "current", "delta")]
    for r in shown:
        cells.append(("✗" if r.broken else " ", _name(r.key), r.stat,
                      fmt_value(r.stat, r.base, r.time), fmt_value(r.stat, r.current, r.time),
                      fmt_delta(r)))
    widths = [max(len(c[i]) for c in cells) for i in range(6)]
    lines = []
    for i, c in enumerate(cells):
        text = "  ".join(c[j].ljust(widths[j]) if j < 3 else c[j].rjust(widths[j])
                         for j in range(6))
        if color and i and shown[i - 1].judgement in ("worse", "better"):
            text = (_RED if shown[i - 1].judgement == "worse" else _GREEN) + text + _RESET
        lines.append(text.rstrip())
    out = head + "\n".join(lines) + "\n"
    out += "".join(f"note: {n}\n" for n in cmp.notes)
    if cmp.regressions:
        out += f"✗ {len(cmp.regressions)} regression(s) against " + ", ".join(
            dict.fromkeys(s for r in cmp.regressions for s in r.broken)) + "\n"
    else:
        out += "✓ no regression (rules: " + ", ".join(r.source for r in cmp.rules) + ")\n"
    return out


def _name(key: Key) -> str:
    return f"endpoint {key[1]}" if key[0] == "endpoint" else key[1]


def is_key_row(row: Row) -> bool:
    if row.key[0] == "endpoint":
        return row.stat in ("count", "rate", "error_rate", "p50", "p95", "p99", "max")
    return row.stat in _KEY_METRICS.get(row.key[1], {}).values()
