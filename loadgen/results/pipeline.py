"""The results side of one run: records -> sinks, thresholds during and after the run, and
every result file k6 users read (text summary, --summary-export, --summary-json, NDJSON).

Pure parts (threshold maths, summary building, formatting) live in thresholds.py and
summary/; this class only wires them to the engine's callbacks and to files. Files are
written so that an interrupted run still leaves them: NDJSON is flushed every 200 ms, and the
summaries are written on every way out (end, abort, Ctrl-C).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from loadgen import thresholds as th
from loadgen.clock import Clock
from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Engine, Outcome, ScenarioSpec
from loadgen.executors import ConstantArrivalRate, RampingArrivalRate
from loadgen.metrics.ingest import Point, Store
from loadgen.metrics.model import NAME_RE, SAMPLE, Metric, MetricType, SubMetric, TagSet
from loadgen.metrics.registry import Registry
from loadgen.metrics.timeseries import TimeSeries
from loadgen.results.bucket_points import completed_points
from loadgen.results.ndjson import NdjsonWriter
from loadgen.summary.build import (
    NO_SETUP_DATA,
    MetricEntry,
    SummaryOptions,
    build_summary,
    validate_trend_stats,
)
from loadgen.summary.export import render_summary_export
from loadgen.summary.groups import GroupTree
from loadgen.summary.handle_summary import render_handle_summary_json
from loadgen.summary.text import render_summary_text
from loadgen.testtypes.verdict import render_verdicts

log = logging.getLogger("loadgen")
FLUSH_NS = 200_000_000


@dataclass
class ResultsConfig:
    threshold_files: list[str] = field(default_factory=list)
    no_thresholds: bool = False
    summary_export: str | None = None
    summary_json: str | None = None
    trend_stats: tuple[str, ...] | None = None
    time_unit: str = ""
    no_summary: bool = False
    outputs: list[str] = field(default_factory=list)
    no_color: bool = False

    @classmethod
    def from_cli(cls, kw: dict[str, Any]) -> ResultsConfig:
        stats = kw.get("summary_trend_stats")
        trend = tuple(s.strip() for s in stats.split(",") if s.strip()) if stats else None
        return cls(threshold_files=list(kw.get("threshold_files") or ()),
                   no_thresholds=bool(kw.get("no_thresholds")),
                   summary_export=kw.get("summary_export"), summary_json=kw.get("summary_json"),
                   trend_stats=trend, time_unit=kw.get("summary_time_unit") or "",
                   no_summary=bool(kw.get("no_summary")), outputs=list(kw.get("outputs") or ()),
                   no_color=bool(kw.get("no_color")))


def open_outputs(specs: list[str]) -> list[tuple[BinaryIO, str]]:
    """`--out json=FILE` -> [(file, mode)]; k6's `json` without a file (or `-`) is stdout."""
    outs: list[tuple[BinaryIO, str]] = []
    problems: list[str] = []
    for spec in specs:
        kind, _, target = spec.partition("=")
        target, _, query = target.partition("?")
        mode = dict(p.partition("=")[::2] for p in query.split("&") if p).get("points", "raw")
        if kind != "json":
            problems.append(f"unsupported output {spec!r}: loadgen writes json=FILE (k6 NDJSON)")
        elif mode not in ("raw", "buckets"):
            problems.append(f"unsupported points mode {mode!r} in {spec!r} (raw or buckets)")
        elif not target or target == "-":
            outs.append((sys.stdout.buffer, mode))
        else:
            try:
                outs.append((open(target, "wb"), mode))  # noqa: SIM115 - closed in close()
            except OSError as e:
                problems.append(f"cannot write output {target!r}: {e.strerror}")
    if problems:
        raise ConfigError(problems)
    return outs


class Results:
    def __init__(self, registry: Registry, specs: list[ScenarioSpec], cfg: ResultsConfig,
                 run_tags: dict[str, str], *, scraping: bool = False) -> None:
        self.registry = registry
        self.cfg = cfg
        self.specs = specs
        problems: list[str] = []
        self.scrape_defined: set[str] = set()  # threshold names only a scrape can fill
        if cfg.trend_stats is not None:
            problems += validate_trend_stats(list(cfg.trend_stats))
        raw = th.merge_thresholds(
            [s.cls.effective_thresholds() for s in specs]  # type: ignore[attr-defined]
            + [th.load_threshold_file(f) for f in cfg.threshold_files])
        if scraping:
            # Scraped series are known only once the target answers: a threshold on a name
            # nobody else defines is taken to be about one of them (a gauge, as scraped).
            for key in raw:
                parent = key.partition("{")[0].strip()
                if parent not in registry.metrics and NAME_RE.match(parent):
                    registry.define(parent, MetricType.GAUGE)
                    self.scrape_defined.add(parent)
        types = {name: m.type for name, m in registry.metrics.items()}
        problems += th.validate(raw, types)
        if problems:
            raise ConfigError(problems)
        self.tset = th.parse(raw, types)
        self.timeseries = TimeSeries()
        self.store = Store(registry, timeseries=self.timeseries)
        # k6 creates this one whenever the expected_response tag is on (the default)
        self.store.add_submetric("http_req_duration", "expected_response:true",
                                 (("expected_response", "true"),))
        self.threshold_targets: dict[str, Metric | SubMetric] = {}
        for mt in self.tset.metrics:
            if mt.suffix is not None and mt.tags is not None:
                self.threshold_targets[mt.name] = self.store.add_submetric(mt.parent, mt.suffix,
                                                                           mt.tags)
            else:
                self.threshold_targets[mt.name] = registry[mt.parent]
        # loadgen's own per-scenario open-model views (not k6 sub-metrics; see `extra`)
        self.open_model: dict[str, dict[str, SubMetric]] = {}
        for s in specs:
            if isinstance(s.executor, ConstantArrivalRate | RampingArrivalRate):
                tags = (("scenario", s.name),)
                self.open_model[s.name] = {
                    m: self.store.add_submetric(m, f"scenario:{s.name}", tags)
                    for m in ("iteration_lag", "iteration_latency", "dropped_iterations")}
                for sub in self.open_model[s.name].values():
                    sub.internal = sub.internal or sub.name not in self.threshold_targets
        self.groups = GroupTree()
        self._check_of: dict[TagSet, Any] = {}  # tag set of a checks sample -> its Check
        self._m_checks = registry["checks"]
        self._m_group = registry["group_duration"]
        self.outputs = open_outputs(cfg.outputs)
        self.writers = [NdjsonWriter(f, self.tset.by_metric()) for f, m in self.outputs
                        if m == "raw"]
        self.bucket_writers = [NdjsonWriter(f, self.tset.by_metric())
                               for f, m in self.outputs if m == "buckets"]
        self._buckets_done_s = float("-inf")
        if self.writers:
            self.store.add_point_hook(self._write_points)
        self._wall_offset_ns = time.time_ns() - time.perf_counter_ns()
        self._last_flush = 0
        self.clock: Clock | None = None
        self.extra: dict[str, Any] = {}
        self.watchers: list[Any] = []
        self.engine: Engine | None = None
        self.verdicts: list[Any] = []
        self._closed = False

    def bind_engine(self, engine: Engine) -> None:
        """Test types read scenario start times and may stop the run early."""
        self.engine = engine

    def views(self, elapsed_s: float | None = None, final: bool = False) -> list[Any]:
        """(test type class, RunView) for every scenario that is a test type."""
        from loadgen.testtypes.base import TestType
        from loadgen.testtypes.view import RunView

        eng = self.engine
        if eng is None or not eng.exec_start_ns:
            return []
        now = eng.clock.now_ns()
        out = []
        for s in self.specs:
            if isinstance(s.cls, type) and issubclass(s.cls, TestType):
                start = eng.exec_start_ns + s.executor.start_time_ns
                start_s = (start - self.timeseries.origin_ns) / 1e9
                ran = max(0.0, (now - start) / 1e9)
                out.append((s.cls, RunView(self.timeseries, s.name, start_s, ran, self.store,
                                           final, s.executor.duration_ns() / 1e9, plan=s.plan)))
        return out

    def bind_clock(self, clock: Clock) -> None:
        self.clock = clock
        self.timeseries.origin_ns = clock.now_ns()
        self._wall_offset_ns = time.time_ns() - clock.now_ns()

    # -- engine callbacks ---------------------------------------------------------------
    def ingest(self, records: list[tuple[object, ...]]) -> None:
        self.store.ingest(records)
        checks, groups = self._m_checks, self._m_group
        known = self._check_of
        for r in records:
            if r[0] == SAMPLE:
                m = r[2]
                if m is checks:
                    pair = known.get(r[4])  # type: ignore[call-overload]
                    if pair is None:
                        tg = dict(cast(TagSet, r[4]))
                        name = tg.get("check", "")
                        c = self.groups.add_check(tg.get("group", ""), name)
                        pair = known[r[4]] = (c, self.groups.flat(name))  # type: ignore[index]
                    if r[3]:
                        pair[0].passes += 1
                        pair[1].passes += 1
                    else:
                        pair[0].fails += 1
                        pair[1].fails += 1
                elif m is groups:
                    self.groups.group(dict(cast(TagSet, r[4])).get("group", ""))
        if self.writers or self.bucket_writers:
            now = time.perf_counter_ns()
            if now - self._last_flush >= FLUSH_NS:
                self._last_flush = now
                self._write_buckets(now, final=False)
                for w in self.writers + self.bucket_writers:
                    w.flush()

    def _write_buckets(self, now_ns: int, final: bool) -> None:
        """Intervals that ended at least a second ago (late samples have landed by then);
        at the end, all of them."""
        if not self.bucket_writers:
            return
        until = float("inf") if final else (now_ns - self.timeseries.origin_ns) / 1e9 - 1.0
        if not final and until - self._buckets_done_s < 1.0:
            return
        origin_wall = self.timeseries.origin_ns + self._wall_offset_ns
        last = self._buckets_done_s
        for name, t_end_s, value, tags in completed_points(self.timeseries, last, until):
            metric = self.registry[name]
            for w in self.bucket_writers:
                w.sample(metric, origin_wall + round(t_end_s * 1e9), value, tags)
            self._buckets_done_s = max(self._buckets_done_s, t_end_s)

    def _write_points(self, points: list[Point]) -> None:
        off = self._wall_offset_ns
        for w in self.writers:
            for metric, t_ns, value, tags in points:
                w.sample(metric, t_ns + off, value, tags)

    def tick(self, elapsed_s: float) -> bool:
        """Every 2 s: evaluate thresholds; True asks the engine to abort (abortOnFail).
        Test types may stop the run early too (a stress test that found its breakpoint)."""
        for cls, view in self.views(elapsed_s):
            reason = cls.monitor(view)
            if reason and self.engine is not None and not self.engine.stopping:
                log.info(reason)
                self.engine.stop(reason, ExitCode.OK)
        if self.cfg.no_thresholds or not self.tset.metrics:
            return False
        ev = th.evaluate(self.tset, self._sink, elapsed_s, final=False)
        if ev.abort:
            log.error(ev.message())
        return ev.abort

    def _sink(self, name: str) -> Any:
        target = self.threshold_targets.get(name)
        if target is None:
            return self.store.get(name)
        return self.store.existing(target)

    # -- the end --------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the streams (also on the hard-exit path)."""
        if self._closed:
            return
        self._closed = True
        self._write_buckets(time.perf_counter_ns(), final=True)
        for w in self.writers + self.bucket_writers:
            w.flush()
        for f, _ in self.outputs:
            if f is not sys.stdout.buffer:
                f.close()
            else:
                f.flush()

    def metric_entries(self, results: dict[str, list[tuple[str, bool]]]) -> dict[str, MetricEntry]:
        entries: dict[str, MetricEntry] = {}
        shown = set(results)
        for name, target, sink in self.store.targets():
            if isinstance(target, SubMetric) and name not in shown and not (
                    target.parent.name == "http_req_duration"
                    and target.tags == (("expected_response", "true"),)):
                continue  # loadgen's internal views, not sub-metrics the user asked for
            parent = target.parent if isinstance(target, SubMetric) else target
            entries[name] = MetricEntry(parent.type, parent.contains, sink,
                                        results.get(name, ()))
        for name, res in results.items():  # threshold spellings of an existing sub-metric
            if name not in entries:
                t = self.threshold_targets[name]
                parent = t.parent if isinstance(t, SubMetric) else t
                entries[name] = MetricEntry(parent.type, parent.contains,
                                            self.store.existing(t), res)
        return entries

    def loadgen_section(self, outcome: Outcome) -> dict[str, Any]:
        """Beyond k6: the open model's honest views per arrival-rate scenario."""
        out: dict[str, Any] = {"version": 1, "open_model": self.open_model_views(), "outcome": {
            "exit_code": outcome.exit_code, "reason": outcome.reason}}
        out.update(self.extra)
        out.update(self._watch_section())
        out["verdicts"] = {v.scenario: v.to_json() for v in self.verdicts}
        return out

    def open_model_views(self) -> dict[str, Any]:
        om: dict[str, Any] = {}
        for scen, subs in self.open_model.items():
            view: dict[str, Any] = {}
            for mname, sub in subs.items():
                sink = self.store.existing(sub)
                if mname == "dropped_iterations":
                    view[mname] = int(sink.aggregate("count", 0) or 0) if sink else 0
                elif sink is not None and not sink.empty:
                    view[mname] = sink.summary_values(
                        ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"], 0)
            om[scen] = view
        return om

    def _watch_section(self) -> dict[str, Any]:
        """The generator's own health and the target watchers' status; warnings for the text
        summary (a saturated generator is never reported as a clean pass silently)."""
        from loadgen.watch.generator import GeneratorWatch
        from loadgen.watch.target import watchers_summary

        out: dict[str, Any] = {}
        warnings: list[str] = list(self.extra.get("warnings", []))
        for w in self.watchers:
            if isinstance(w, GeneratorWatch):
                sat = w.saturation
                out["generator"] = {"saturated": bool(sat.intervals),
                                    "saturated_seconds": sat.seconds,
                                    "intervals": [list(iv) for iv in sat.intervals]}
                if sat.intervals:
                    warnings.append(sat.describe())
        for scen, view in (self.open_model_views()).items():
            lag = view.get("iteration_lag", {}).get("p(95)", 0)
            if lag > 100 or view.get("dropped_iterations", 0):
                warnings.append(f"scenario {scen}: the generator did not keep the arrival "
                                f"schedule (iteration_lag p95 {lag:.1f} ms, "
                                f"{view.get('dropped_iterations', 0)} dropped)")
        out.update(watchers_summary(self.watchers))
        out["warnings"] = warnings
        self.extra["warnings"] = warnings
        return out

    def finish(self, outcome: Outcome) -> int:
        """Final threshold evaluation, summaries and files; returns the process exit code."""
        elapsed_s = outcome.duration_ns / 1e9
        ev = None
        if not self.cfg.no_thresholds and self.tset.metrics:
            ev = th.evaluate(self.tset, self._sink, elapsed_s, final=True)
            self._fail_unseen_scrapes(ev)
        self.close()
        self.verdicts = [v for cls, view in self.views(final=True)
                         if (v := cls.verdict(view)) is not None]
        code = outcome.exit_code
        if code == ExitCode.OK and ev is not None and ev.breached:
            code = ExitCode.THRESHOLDS_FAILED
        failed_verdicts = [v for v in self.verdicts if v.ok is False]
        if code == ExitCode.OK and failed_verdicts:
            code = ExitCode.THRESHOLDS_FAILED
            for v in failed_verdicts:
                log.error("verdict of %s (%s) failed: %s", v.scenario, v.kind, v.headline)
        if self.cfg.no_summary:
            self._log_breach(ev, code)
            return code
        results = self.tset.results() if ev is not None else {}
        setup = {k: json_safe(v) for k, v in outcome.setup_data.items() if v is not None}
        summary = build_summary(
            self.metric_entries(results), self.groups, test_run_duration_ms=elapsed_s * 1000,
            options=SummaryOptions(self.cfg.trend_stats or SummaryOptions().trend_stats,
                                   self.cfg.time_unit, self.cfg.no_color),
            is_stdout_tty=sys.stdout.isatty(), is_stderr_tty=sys.stderr.isatty(),
            setup_data=(next(iter(setup.values())) if len(setup) == 1 else setup) if setup
            else NO_SETUP_DATA, extra=self.loadgen_section(outcome))
        self.summary = summary
        for path, render in ((self.cfg.summary_export, render_summary_export),
                             (self.cfg.summary_json, render_handle_summary_json)):
            if path:
                Path(path).write_text(render(summary.data))
        sys.stdout.write(render_summary_text(
            summary, colors=sys.stdout.isatty() and not self.cfg.no_color))
        sys.stdout.write(render_verdicts(self.verdicts))
        for line in self.extra.get("warnings", []):
            sys.stdout.write(f"  ⚠ {line}\n")
        sys.stdout.flush()
        self._log_breach(ev, code)
        return code

    def _fail_unseen_scrapes(self, ev: th.Evaluation) -> None:
        """A threshold on a scraped name that never arrived fails (a typo must not pass as
        a zero), with a warning that says so."""
        for mt in self.tset.metrics:
            sink = self.store.get(mt.parent)
            if mt.parent in self.scrape_defined and (sink is None or sink.empty):
                mt.last_ok = [False] * len(mt.specs)
                if mt.name not in ev.breached:
                    ev.breached.append(mt.name)
                    ev.breached.sort()
                self.extra.setdefault("warnings", []).append(
                    f"threshold on {mt.parent}: no scraped series of that name was ever seen "
                    "(check the name and the --scrape URL); counted as failed")

    @staticmethod
    def _log_breach(ev: th.Evaluation | None, code: int) -> None:
        if ev is not None and ev.breached and code == ExitCode.THRESHOLDS_FAILED:
            log.error(ev.message())


def json_safe(value: Any) -> Any:
    """setup() data as JSON sees it (k6 round-trips it through JSON): sets become lists,
    anything else JSON cannot hold becomes its str(), with a warning, never a crash."""
    import json

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
