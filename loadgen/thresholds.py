"""Thresholds: k6's grammar, validation messages and pass/fail semantics (k6-compat.md §3).

CI gates depend on thresholds behaving exactly like k6's: the same expressions parse, the
same ones are rejected (exit 104, with k6's wording), empty metrics pass or fail the same way
(§3.6) and abortOnFail fires at the same moments. Everything here is pure: the engine owns the
clock and the sinks and calls `evaluate()` every 2 s during the run and once at the end.

Typical use::

    problems = validate(raw, metric_types)          # all problems at once, for ConfigError
    tset = parse(raw, metric_types)                  # raises ConfigError(problems) instead
    ev = evaluate(tset, sinks.get, elapsed_s, final=False)   # every 2 s
    if ev.abort: stop the test, exit 99
    ev = evaluate(tset, sinks.get, elapsed_s, final=True)    # at the end; exit 99 if ev.breached
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen.errors import ConfigError
from loadgen.metrics.model import MetricType
from loadgen.metrics.selectors import SelectorError, go_quote, parse_selector
from loadgen.metrics.sinks import Sink, new_sink
from loadgen.numfmt import go_float
from loadgen.options import format_duration, parse_duration
from loadgen.slo import Budgets, class_budgets, expand, merge_budgets, parse_slo

RawThresholds = Mapping[str, Any]  # selector -> list of entries (checked by validate)

# Searched as substrings in this order; the first one with a non-empty right side wins.
OPERATORS = ("<=", "<", ">=", ">", "===", "==", "!=")
_METHODS = ("value", "count", "rate", "avg", "min", "med", "max")
SUPPORTED: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "rate"),
    MetricType.GAUGE: ("value", "min", "max"),  # k6 allows only value; min/max are ours
    MetricType.RATE: ("rate",),
    MetricType.TREND: ("avg", "min", "max", "med", "p"),
}
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)


class ThresholdError(ValueError):
    """One invalid threshold; the message is what k6 would print."""


def _go_parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64) for decimal input, with Go's error text."""
    if not _GO_FLOAT.fullmatch(text):
        raise ThresholdError(f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax")
    v = float(text)
    if v in (float("inf"), float("-inf")) and "inf" not in text.lower():
        raise ThresholdError(f"strconv.ParseFloat: parsing {go_quote(text)}: value out of range")
    return v


@dataclass(frozen=True)
class Expression:
    """`<method> <operator> <value>`; `percentile` is set for `p(N)`."""

    method: str
    operator: str
    value: float
    percentile: float | None = None
    #: `p(99) over 1m < 300`: judged on every full sliding window of this length
    #: (loadgen/results/windows.py) instead of the whole run
    window_ns: int | None = None

    @property
    def sink_key(self) -> str:
        """The aggregate compared: `p(%g)` so that p(99.90) and p(99.9) are the same."""
        if self.percentile is not None:
            return f"p({go_float(self.percentile)})"
        return self.method

    def compare(self, lhs: float) -> bool:
        op, rhs = self.operator, self.value
        if op == "<=":
            return lhs <= rhs
        if op == "<":
            return lhs < rhs
        if op == ">=":
            return lhs >= rhs
        if op == ">":
            return lhs > rhs
        if op in ("==", "==="):
            return lhs == rhs
        return lhs != rhs


def parse_expression(source: str) -> Expression:
    """Parse one expression with k6's rules and messages (thresholds_parser.go).

    Unlike k6 v1.1.0 (like k6 v2.1), p(N) outside 0..100 is rejected.
    """
    for op in OPERATORS:
        left, found, right = source.partition(op)
        if found and right:
            break
    else:
        raise ThresholdError(
            f"failed parsing threshold expression {go_quote(source)}; "
            "reason: malformed threshold expression"
        )
    method, rhs = left.strip(), right.strip()
    lhs_err = f"failed parsing threshold expression's {go_quote(source)} left hand side; reason: "
    method, _, window = method.partition(" over ")
    method, window = method.strip(), window.strip()
    window_ns = _window(source, window) if _ else None
    percentile: float | None = None
    if method not in _METHODS:
        if not (method.startswith("p(") and method.endswith(")")):
            raise ThresholdError(lhs_err + "failed parsing method from expression")
        try:
            percentile = _go_parse_float(method[2:-1])
        except ThresholdError as e:
            raise ThresholdError(f"{lhs_err}malformed percentile value; reason: {e}") from None
        if not 0 <= percentile <= 100:  # also rejects NaN
            raise ThresholdError(
                lhs_err + "malformed percentile value, provide a number between 0 and 100"
            )
        method = "p"
    try:
        value = _go_parse_float(rhs)
    except ThresholdError as e:  # "expresion's": k6's own spelling
        raise ThresholdError(
            f"failed parsing threshold expresion's {go_quote(source)} right hand side; "
            f"reason: {e}"
        ) from None
    return Expression(method, op, value, percentile, window_ns)


MAX_WINDOW_NS = 3600 * 1_000_000_000  # a window's buckets are kept: bounded memory


def _window(source: str, text: str) -> int:
    """The `over 1m` of a windowed expression: whole seconds, 1 s to 1 h."""
    where = f"invalid window in threshold {go_quote(source)}: "
    try:
        ns = parse_duration(text, what="window")
    except ValueError as e:
        raise ThresholdError(f"{where}{e} (e.g. `p(99) over 1m < 300`)") from None
    if ns < 1_000_000_000 or ns > MAX_WINDOW_NS or ns % 1_000_000_000:
        raise ThresholdError(f"{where}{text!r} must be whole seconds from 1s to 1h")
    return ns


@dataclass(frozen=True)
class ThresholdSpec:
    """One threshold as declared: a string, or {threshold, abortOnFail, delayAbortEval}."""

    source: str
    expression: Expression
    abort_on_fail: bool = False
    delay_abort_eval_ns: int | None = None

    def to_json(self) -> str | dict[str, Any]:
        """The NDJSON Metric-line form: a plain string unless abortOnFail is set."""
        if not self.abort_on_fail:
            return self.source
        delay = None if self.delay_abort_eval_ns is None else format_duration(
            self.delay_abort_eval_ns)
        return {"threshold": self.source, "abortOnFail": True, "delayAbortEval": delay}


def parse_spec(entry: Any, key: str = "") -> ThresholdSpec:
    """A threshold list entry (string or object form) -> ThresholdSpec, or ThresholdError."""
    abort, delay_ns = False, None
    if isinstance(entry, Mapping):
        source = entry.get("threshold", "")
        abort = entry.get("abortOnFail", False)
        delay = entry.get("delayAbortEval")
        if not isinstance(source, str):
            raise ThresholdError(f"invalid threshold on {key}: 'threshold' must be a string")
        if not isinstance(abort, bool):
            raise ThresholdError(f"invalid threshold {go_quote(source)} on {key}: "
                                 "'abortOnFail' must be true or false")
        if delay is not None:
            try:
                delay_ns = parse_duration(delay, what="delayAbortEval")
            except ValueError as e:
                raise ThresholdError(
                    f"invalid threshold {go_quote(source)} on {key}: {e}") from None
    elif isinstance(entry, str):
        source = entry
    else:
        raise ThresholdError(
            f"invalid threshold on {key}: expected a string or an object with a 'threshold' "
            f"field, got {json.dumps(entry, default=str)}"
        )
    return ThresholdSpec(source, parse_expression(source), abort, delay_ns)


@dataclass
class MetricThresholds:
    """The thresholds of one metric or sub-metric, with their latest results."""

    name: str  # k6 name: `parent` or `parent{suffix}` (first spelling wins)
    parent: str
    suffix: str | None
    tags: tuple[tuple[str, str], ...] | None
    type: MetricType
    specs: list[ThresholdSpec]
    last_ok: list[bool] = field(default_factory=list)
    aborted: bool = False  # k6's sticky Thresholds.Abort

    def __post_init__(self) -> None:
        if not self.last_ok:
            self.last_ok = [True] * len(self.specs)


@dataclass
class ThresholdSet:
    """All parsed thresholds of a run, in declaration order."""

    metrics: list[MetricThresholds] = field(default_factory=list)

    def get(self, name: str) -> MetricThresholds | None:
        return next((m for m in self.metrics if m.name == name), None)

    def results(self) -> dict[str, list[tuple[str, bool]]]:
        """name -> [(source, ok), ...], what the summary builders take."""
        return {m.name: [(s.source, ok) for s, ok in zip(m.specs, m.last_ok, strict=True)]
                for m in self.metrics}

    def by_metric(self) -> dict[str, list[ThresholdSpec]]:
        """name -> specs, for NDJSON Metric lines (a parent lists only its own thresholds)."""
        return {m.name: list(m.specs) for m in self.metrics}

    def submetrics(self) -> list[MetricThresholds]:
        """The sub-metrics the engine must create (name, parent, suffix, tags)."""
        return [m for m in self.metrics if m.suffix is not None]


def _supported_message(source: str, key: str, method: str, mtype: MetricType) -> str:
    return (
        f"invalid threshold {go_quote(source)} applied on metric {key}; reason: unsupported "
        f"aggregation method {method} on metric of type {mtype.value}. supported aggregation "
        f"methods for this metric are: {', '.join(SUPPORTED[mtype])}"
    )


def _parse_all(
    raw: RawThresholds, metric_types: Mapping[str, MetricType]
) -> tuple[ThresholdSet, list[str]]:
    tset, problems = ThresholdSet(), []
    by_identity: dict[tuple[str, Any], MetricThresholds] = {}
    for key, entries in raw.items():
        if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
            problems.append(f"invalid thresholds for {key}: expected a list of threshold "
                            "expressions or objects")
            continue
        specs: list[ThresholdSpec] = []
        for entry in entries:
            try:
                specs.append(parse_spec(entry, key))
            except ThresholdError as e:
                problems.append(str(e))
        try:
            sel = parse_selector(key)
        except SelectorError as e:
            problems.append(str(e))
            continue
        mtype = metric_types.get(sel.parent)
        if mtype is None:
            problems.append(f"invalid threshold defined on {key}; reason: "
                            f"no metric name {go_quote(key)} found")
            continue
        for spec in specs:
            if spec.expression.method not in SUPPORTED[mtype]:
                problems.append(_supported_message(spec.source, key, spec.expression.method,
                                                   mtype))
            elif spec.expression.window_ns is not None and mtype is MetricType.GAUGE:
                problems.append(f"invalid threshold {go_quote(spec.source)} applied on metric "
                                f"{key}; reason: a window (`over ...`) needs a trend, counter "
                                "or rate: a gauge has no per-window samples to add up")
        ident = (sel.parent, sel.tags)
        have = by_identity.get(ident)
        if have is None:
            have = MetricThresholds(sel.name, sel.parent, sel.suffix, sel.tags, mtype, [])
            by_identity[ident] = have
            tset.metrics.append(have)
        have.specs.extend(specs)
        have.last_ok = [True] * len(have.specs)
    return tset, problems


def validate(raw: RawThresholds, metric_types: Mapping[str, MetricType]) -> list[str]:
    """Every problem in a thresholds mapping (selector -> list), k6's wording; [] if valid."""
    return _parse_all(raw, metric_types)[1]


def parse(raw: RawThresholds, metric_types: Mapping[str, MetricType]) -> ThresholdSet:
    """Parse and validate; raises ConfigError (exit 104) listing every problem."""
    tset, problems = _parse_all(raw, metric_types)
    if problems:
        raise ConfigError(problems)
    return tset


@dataclass
class Evaluation:
    """One evaluation round: ok flags per threshold, breached metrics, and abort."""

    ok: dict[str, list[bool]]
    breached: list[str]  # sorted names of metrics with a failed threshold
    abort: bool  # an abortOnFail threshold failed past its delayAbortEval

    def message(self) -> str | None:
        """k6's log line for a breach (level=error at the end, or the abort reason)."""
        if not self.breached:
            return None
        names = ", ".join(self.breached)
        if self.abort:
            return (f"thresholds on metrics '{names}' were crossed; at least one has "
                    "abortOnFail enabled, stopping test prematurely")
        return f"thresholds on metrics '{names}' have been crossed"


def evaluate(
    tset: ThresholdSet, get_sink: Callable[[str], Sink | None], elapsed_s: float, final: bool,
    windowed: Callable[[str, int], bool | None] | None = None,
) -> Evaluation:
    """Run every threshold against its sink (k6 engine.evaluateThresholds).

    During the run (`final=False`) metrics whose sink is missing or empty are skipped and keep
    their previous result. At the end every threshold runs: an empty rate has no `rate` and
    passes, counters/gauges compare 0, an empty trend's stats are 0 (§3.6). Updates the
    `last_ok` flags in `tset`. `abort` matters only during the run (k6 ignores it at the end).
    """
    breached: list[str] = []
    abort = False
    for m in tset.metrics:
        sink = get_sink(m.name)
        if sink is None or sink.empty:
            if not final:
                continue
            if sink is None:
                sink = new_sink(m.type)
        failed_any = False
        for i, spec in enumerate(m.specs):
            if spec.expression.window_ns is not None:
                # every full window so far held (None: none is full yet, failed at the end)
                w = windowed(m.name, i) if windowed is not None else None
                ok = (w is not False) if not final else bool(w)
            else:
                lhs = sink.aggregate(spec.expression.sink_key, elapsed_s)
                ok = True if lhs is None else spec.expression.compare(lhs)
            m.last_ok[i] = ok
            if ok:
                continue
            failed_any = True
            if m.aborted or not spec.abort_on_fail:
                continue
            delay = spec.delay_abort_eval_ns
            m.aborted = delay is None or delay / 1e9 < elapsed_s
        if failed_any:
            breached.append(m.name)
            abort = abort or m.aborted
    breached.sort()
    return Evaluation({m.name: list(m.last_ok) for m in tset.metrics}, breached, abort)


def _threshold_doc(text: str, filename: str) -> Any:
    """A threshold file's document, with a k6 options file's `thresholds` unwrapped (yaml is
    imported here: a run without threshold files does not load it)."""
    import yaml

    try:
        doc = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"threshold file {filename}: not valid "
                          f"{'JSON' if filename.endswith('.json') else 'YAML'}: {e}") from None
    if isinstance(doc, Mapping) and set(doc) <= {"thresholds", "slo"} and "thresholds" in doc \
            and isinstance(doc["thresholds"], Mapping):
        doc = {**doc["thresholds"], **({"slo": doc["slo"]} if "slo" in doc else {})}
    return doc


def parse_threshold_text(text: str, filename: str = "<thresholds>") -> dict[str, list[Any]]:
    """A threshold file's content (YAML or JSON) -> {selector: [entries]}; ConfigError if bad.

    The shape is k6's `thresholds` option; a document with a single top-level `thresholds`
    mapping (a k6 options file) is accepted too. An `slo:` section (per-endpoint budgets,
    loadgen/slo.py) expands to sub-metric thresholds.
    """
    doc = _threshold_doc(text, filename)
    if not isinstance(doc, Mapping):
        raise ConfigError(f"threshold file {filename}: expected a mapping of metric selector "
                          "to a list of threshold expressions")
    problems = [f"threshold file {filename}: {k!s}: expected a list of threshold expressions "
                "or objects" for k, v in doc.items() if not isinstance(v, list) and k != "slo"]
    slo: dict[str, list[Any]] = {}
    if "slo" in doc:
        try:
            slo = expand(parse_slo(doc["slo"], f"threshold file {filename}"))
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(problems)
    return merge_thresholds([{str(k): list(v) for k, v in doc.items() if k != "slo"}, slo])


def read_threshold_doc(path: str | Path) -> Any:
    """A threshold file's raw document (for its `slo` budgets)."""
    return _threshold_doc(_read_text(Path(path)), str(path))


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"threshold file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"threshold file {p}: not UTF-8 text (YAML or JSON expected)") from None


def load_threshold_file(path: str | Path) -> dict[str, list[Any]]:
    """Read and parse a threshold file (the only I/O in this module)."""
    p = Path(path)
    return parse_threshold_text(_read_text(p), str(p))


def merge_thresholds(sources: Iterable[RawThresholds]) -> dict[str, list[Any]]:
    """Merge several threshold mappings (scenario-declared first, then files): lists concatenate."""
    out: dict[str, list[Any]] = {}
    for src in sources:
        for key, entries in src.items():
            if not isinstance(entries, list | tuple):
                raise ConfigError(f"invalid thresholds for {key}: expected a list of threshold "
                                  "expressions or objects")
            out.setdefault(key, []).extend(entries)
    return out


def file_budgets(path: str) -> Budgets:
    """The `slo:` section of a threshold file (empty without one; unreadable files are the
    threshold loader's to report)."""
    try:
        doc = read_threshold_doc(path)
    except ConfigError:
        return {}
    if isinstance(doc, Mapping) and "slo" in doc:
        return parse_slo(doc["slo"], f"threshold file {path}")
    return {}


def run_budgets(classes: Iterable[Any], files: Iterable[str]) -> Budgets:
    """Every budget of a run, for `loadgen.slo` (scenarios first, then files)."""
    sources: list[Budgets] = []
    for cls in classes:
        try:
            sources.append(class_budgets(cls))
        except ConfigError:
            continue  # reported (104) when its thresholds were loaded
    for f in files:
        try:
            sources.append(file_budgets(f))
        except ConfigError:
            continue
    return merge_budgets(sources)
