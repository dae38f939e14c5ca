"""The report step at the end of a run: the summary data (k6's, plus loadgen's own section)
built from the store, the check tree and the judgement, then every writer: the text summary
on stdout, `--summary-export`, `--summary-json`.

Beyond k6, the `loadgen` section carries the open model's honest views per arrival-rate
scenario (schedule lag, latency from the intended start, dropped iterations), the
generator's health and the target watchers, warnings and test-type verdicts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.executors import ConstantArrivalRate, RampingArrivalRate
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import Metric, SubMetric
from loadgen.net.errors import INTERRUPTED
from loadgen.results.config import ResultsConfig
from loadgen.results.judge import Judgement
from loadgen.summary.build import NO_SETUP_DATA, MetricEntry, Summary, SummaryOptions, build_summary
from loadgen.summary.by_name import render_by_name, render_slowest
from loadgen.summary.export import render_summary_export
from loadgen.summary.groups import GroupTree
from loadgen.summary.handle_summary import render_handle_summary_json
from loadgen.summary.text import render_summary_text
from loadgen.testtypes.verdict import render_verdicts
from loadgen.watch.generator import GeneratorWatch
from loadgen.watch.target import ScrapeWatch, watchers_summary

log = logging.getLogger("loadgen")
OPEN_MODEL_METRICS = ("iteration_lag", "iteration_latency", "dropped_iterations")
OPEN_MODEL_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"]


class OpenModelViews:
    """Per arrival-rate scenario, loadgen's own sub-metrics of lag, latency and drops
    (internal: not k6 sub-metrics, unless a threshold names the same one)."""

    def __init__(self, store: Store, specs: list[ScenarioSpec], shown: set[str],
                 arrival: list[str] | None = None) -> None:
        """`arrival`: the open-model scenarios by name (else: those of `specs`)."""
        self.store = store
        self.subs: dict[str, dict[str, SubMetric]] = {}
        if arrival is None:
            arrival = [s.name for s in specs
                       if isinstance(s.executor, ConstantArrivalRate | RampingArrivalRate)]
        for name in arrival:
            tags = (("scenario", name),)
            self.subs[name] = {m: store.add_submetric(m, f"scenario:{name}", tags)
                               for m in OPEN_MODEL_METRICS}
            for sub in self.subs[name].values():
                sub.internal = sub.internal or sub.name not in shown

    def values(self) -> dict[str, Any]:
        om: dict[str, Any] = {}
        for scen, subs in self.subs.items():
            view: dict[str, Any] = {}
            for mname, sub in subs.items():
                sink = self.store.existing(sub)
                if mname == "dropped_iterations":
                    view[mname] = int(sink.aggregate("count", 0) or 0) if sink else 0
                elif sink is not None and not sink.empty:
                    view[mname] = sink.summary_values(OPEN_MODEL_STATS, 0)
                    if mname == "iteration_latency":  # dropped + interrupted: never served
                        view[mname]["unserved"] = int(getattr(sink, "unserved", 0))
            om[scen] = view
        return om


class CutOffRequests:
    """Requests that got no response before their VU was stopped (net/errors.INTERRUPTED):
    an internal sub-metric of http_reqs, so the summary can say plainly that the target
    never answered them, rather than leave the reader to infer it from a percentile."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sub = store.add_submetric("http_reqs", f"error:{INTERRUPTED[1]}",
                                       (("error", INTERRUPTED[1]),))
        self.sub.internal = True

    def warnings(self) -> list[str]:
        sink = self.store.existing(self.sub)
        n = int(sink.aggregate("count", 0) or 0) if sink is not None else 0
        if not n:
            return []
        return [f"{n} HTTP request{'s' if n != 1 else ''} got no response before the VU was "
                f"stopped (the target never answered in time): counted as failed "
                f"(http_req_failed, error_code {INTERRUPTED[0]}) with the wait so far as "
                "http_req_duration"]


LAG_P95_LIMIT_MS = 100.0  # iteration_lag p95 above this: starts were late


def schedule_warnings(open_model: dict[str, Any],
                      generator: GeneratorWatch | None = None) -> list[str]:
    """Who did not keep the arrival schedule: the generator or the target.

    Late starts (iteration_lag) are the generator's doing: an arrival-rate iteration is
    never delayed for want of a VU, it is dropped. Dropped iterations while starts were on
    time and the loop was not saturated mean every VU was busy waiting for the target:
    the target was slow, and saying "the generator did not keep up" would blame the wrong
    side (the unserved arrivals are in iteration_latency, see metrics/histogram.py)."""
    out = []
    saturated = generator is not None and bool(generator.saturation.intervals)
    health = "" if generator is None else (
        f"loop lag up to {generator.worst_lag_ms:.1f} ms, CPU up to {generator.peak_cpu:.0%}")
    for scen, view in open_model.items():
        lag = view.get("iteration_lag", {}).get("p(95)", 0)
        dropped = view.get("dropped_iterations", 0)
        if lag > LAG_P95_LIMIT_MS or (dropped and saturated):
            out.append(f"scenario {scen}: the generator did not keep the arrival schedule "
                       f"(iteration_lag p95 {lag:.1f} ms, {dropped} dropped"
                       + (f"; {health}" if health else "") + ")")
        elif dropped:
            out.append(f"scenario {scen}: the target was slow, not the generator: {dropped} "
                       "iterations dropped because every VU was busy waiting for responses, "
                       f"while starts kept the schedule (iteration_lag p95 {lag:.1f} ms"
                       + (f", {health}" if health else "") + "); they count as unserved in "
                       "iteration_latency (raise max_vus to measure how slow instead)")
    return out


def loadgen_section(outcome: Outcome, judgement: Judgement, open_model: dict[str, Any],
                    watchers: list[Any], more_warnings: list[str] | None = None,
                    ) -> dict[str, Any]:
    """The `loadgen` key of both JSON files; its `warnings` are also printed under the text
    summary (a saturated generator is never reported as a clean pass silently)."""
    out: dict[str, Any] = {"version": 1, "open_model": open_model, "outcome": {
        "exit_code": outcome.exit_code, "reason": outcome.reason}}
    warnings = list(judgement.warnings)
    if warnings:
        out["warnings"] = warnings
    generator = None
    for w in watchers:
        if isinstance(w, GeneratorWatch):
            generator = w
            sat = w.saturation
            out["generator"] = {"saturated": bool(sat.intervals),
                                "saturated_seconds": sat.seconds,
                                "intervals": [list(iv) for iv in sat.intervals]}
            if sat.intervals:
                warnings.append(sat.describe())
        elif isinstance(w, ScrapeWatch) and (line := w.warning()):
            warnings.append(line)
    warnings += schedule_warnings(open_model, generator)
    warnings += more_warnings or []
    out.update(watchers_summary(watchers))
    out["warnings"] = warnings
    out["verdicts"] = {v.scenario: v.to_json() for v in judgement.verdicts}
    return out


def metric_entries(store: Store, targets: dict[str, Metric | SubMetric],
                   results: dict[str, list[tuple[str, bool]]]) -> dict[str, MetricEntry]:
    """Every metric and shown sub-metric with its sink and threshold results."""
    entries: dict[str, MetricEntry] = {}
    shown = set(results)
    for name, target, sink in store.targets():
        if isinstance(target, SubMetric) and name not in shown and not (
                target.parent.name == "http_req_duration"
                and target.tags == (("expected_response", "true"),)):
            continue  # loadgen's internal views, not sub-metrics the user asked for
        parent = target.parent if isinstance(target, SubMetric) else target
        entries[name] = MetricEntry(parent.type, parent.contains, sink, results.get(name, ()))
    for name, res in results.items():  # threshold spellings of an existing sub-metric
        if name not in entries:
            t = targets[name]
            parent = t.parent if isinstance(t, SubMetric) else t
            entries[name] = MetricEntry(parent.type, parent.contains, store.existing(t), res)
    return entries


def build_report(cfg: ResultsConfig, entries: dict[str, MetricEntry], groups: GroupTree,
                 outcome: Outcome, extra: dict[str, Any],
                 no_samples: list[str] | None = None) -> Summary:
    """The summary data (pure: no files, no stdout)."""
    setup = {k: json_safe(v) for k, v in outcome.setup_data.items() if v is not None}
    return build_summary(
        entries, groups, test_run_duration_ms=outcome.duration_ns / 1e9 * 1000,
        options=SummaryOptions(cfg.trend_stats or SummaryOptions().trend_stats,
                               cfg.time_unit, cfg.no_color),
        is_stdout_tty=sys.stdout.isatty(), is_stderr_tty=sys.stderr.isatty(),
        setup_data=(next(iter(setup.values())) if len(setup) == 1 else setup) if setup
        else NO_SETUP_DATA, extra=extra, no_samples=no_samples or ())


def write_report(cfg: ResultsConfig, summary: Summary, judgement: Judgement,
                 warnings: list[str], more_text: str = "") -> list[str]:
    """The JSON files, then the text summary, verdicts and warnings on stdout.

    Each writer on its own: one that fails (a full disk, a closed stdout) is reported in the
    returned list and the others are still written."""
    failures: list[str] = []
    for flag, path, render in (("--summary-export", cfg.summary_export, render_summary_export),
                               ("--summary-json", cfg.summary_json, render_handle_summary_json)):
        if path:
            try:
                Path(path).write_text(render(summary.data))
            except OSError as e:
                failures.append(f"{flag} {path}: {e.strerror or e}")
    out = cfg.text_out if cfg.text_out is not None else sys.stdout
    text = render_summary_text(summary, colors=out.isatty() and not cfg.no_color)
    text += more_text + render_verdicts(judgement.verdicts)
    section = summary.data.get("loadgen") or {}
    unit = cfg.time_unit or None
    if cfg.summary_by_name:
        text += render_by_name(section, unit)
    text += render_slowest(section, unit)
    text += "".join(f"  ⚠ {line}\n" for line in warnings)
    try:
        out.write(text)
        out.flush()
    except (OSError, ValueError) as e:
        failures.append(f"the text summary on stdout: {getattr(e, 'strerror', None) or e}")
        silence_stdout()
    return failures


def silence_stdout() -> None:
    """After stdout failed, point it at /dev/null so that the interpreter's own flush at exit
    does not print a traceback or change the exit code."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def writable_problem(flag: str, path: str | None) -> str | None:
    """Checked before the run, so a typo in a directory name does not cost the run's files."""
    if not path:
        return None
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        return f"{flag} {path}: is a directory"
    if not parent.is_dir():
        return f"{flag} {path}: the directory {str(parent)!r} does not exist"
    if not os.access(p if p.exists() else parent, os.W_OK):
        return f"{flag} {path}: not writable"
    return None


def json_safe(value: Any) -> Any:
    """setup() data as JSON sees it (k6 round-trips it through JSON): sets become lists,
    anything else JSON cannot hold becomes its str(), with a warning, never a crash."""

    def fallback(o: Any) -> Any:
        if isinstance(o, set | frozenset | tuple):
            return list(o)
        log.warning("setup() returned a %s, which JSON cannot hold: stored as a string",
                    type(o).__name__)
        return str(o)

    try:
        return json.loads(json.dumps(value, default=fallback))
    except (ValueError, TypeError, RecursionError):
        return str(value)
