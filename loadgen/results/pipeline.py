"""The results pipeline of one run, wired once: records -> store (sinks, time series, check
tree) -> live streams; the judge during and after the run; the report at the end.

Nothing here holds the engine: the engine calls `ingest`, `tick` (which answers with a stop
request), `started` and `exec_started`, and the runner calls `finish(outcome)`. Every way
out (end, abort, Ctrl-C) reaches `finish` or `close`, so an interrupted run still leaves its
files: NDJSON is flushed every 200 ms, the summaries are written at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec, StopRequest
from loadgen.metrics.ingest import Store
from loadgen.metrics.registry import Registry
from loadgen.metrics.slowest import SlowestRequests
from loadgen.metrics.timeseries import TimeSeries
from loadgen.report.runinfo import run_info
from loadgen.results.archive import ArchiveWriter
from loadgen.results.archive_trailer import AddonMark
from loadgen.results.checks import CheckCounter
from loadgen.results.config import ResultsConfig
from loadgen.results.endpoints import EndpointViews
from loadgen.results.interval import Interval, IntervalRecorder, apply, interval_store
from loadgen.results.judge import Judge, Judgement, log_breach
from loadgen.results.live import LiveFigures
from loadgen.results.prometheus import open_prometheus
from loadgen.results.report import (
    CutOffRequests,
    OpenModelViews,
    build_report,
    loadgen_section,
    metric_entries,
    writable_problem,
    write_report,
)
from loadgen.results.streams import Streams
from loadgen.summary.build import MetricEntry, Summary, validate_trend_stats
from loadgen.thresholds import run_budgets
from loadgen.watch.generator import GeneratorWatch

if TYPE_CHECKING:  # the HTML report's and JUnit's modules are imported by a run asking for them
    from loadgen.report.collect import ReportCollector
    from loadgen.results.prometheus import PrometheusOutput

log = logging.getLogger("loadgen")
ARCHIVE_INTERVAL_NS = 1_000_000_000


def generator_health(watchers: list[Any]) -> dict[str, Any]:
    """The generator watch's state so far, for an interval snapshot."""
    for w in watchers:
        if isinstance(w, GeneratorWatch):
            return {"saturated": [list(iv) for iv in w.saturation.intervals],
                    "saturated_seconds": w.saturation.seconds,
                    "worst_lag_ms": w.worst_lag_ms, "peak_cpu": w.peak_cpu}
    return {}


class Results:
    def __init__(self, registry: Registry, specs: list[ScenarioSpec], cfg: ResultsConfig, *,
                 scraping: bool = False, watchers: list[Any] | None = None,
                 now_ns: Callable[[], int] | None = None, archive: ArchiveWriter | None = None,
                 arrival_scenarios: list[str] | None = None,
                 store_factory: Callable[[Registry, TimeSeries], Store] | None = None) -> None:
        """Validate everything the results side is asked for (all problems at once), open
        the streams; `now_ns` is the run's clock (test-type views need the time).

        `archive`: also cut the records into interval snapshots and write them there.
        `arrival_scenarios` / `store_factory`: for a coordinator that feeds intervals
        (`loadgen merge`): which scenarios were open-model, and a store whose trend
        histograms share the intervals' fixed unit."""
        self.cfg = cfg
        self.now_ns = now_ns
        self.archive = archive
        self.specs = specs
        #: --report: per-interval series for the HTML report, fed by our own cuts or by a
        #: coordinator's `observe`; `run_info`: the run's description for it (else: specs)
        self.html: ReportCollector | None = None
        if cfg.report:
            from loadgen.report.collect import ReportCollector

            self.html = ReportCollector()
        self.run_info: dict[str, Any] | None = None
        self.intervals = (IntervalRecorder(registry)
                          if archive is not None or self.html is not None else None)
        self._start_ns = 0
        self._cut_ns = 0
        self.watchers = list(watchers or ())
        problems = validate_trend_stats(list(cfg.trend_stats)) if cfg.trend_stats else []
        problems += [p for p in (writable_problem("--summary-export", cfg.summary_export),
                                 writable_problem("--summary-json", cfg.summary_json),
                                 writable_problem("--archive", cfg.archive),
                                 writable_problem("--junit", cfg.junit),
                                 writable_problem("--report", cfg.report),
                                 _report_problem(cfg.report)) if p]
        problems += cfg.after_run.problems() if cfg.after_run is not None else []
        self.timeseries = TimeSeries()
        if store_factory is None and archive is not None:
            store_factory = interval_store  # the run's own numbers = a merge of its archive
        self.store = (store_factory(registry, self.timeseries) if store_factory
                      else Store(registry, timeseries=self.timeseries))
        # k6 creates this one whenever the expected_response tag is on (the default)
        self.store.add_submetric("http_req_duration", "expected_response:true",
                                 (("expected_response", "true"),))
        try:
            self.judge = Judge(registry, self.store, self.timeseries, specs,
                               cfg.threshold_files, enabled=not cfg.no_thresholds,
                               scraping=scraping, now_ns=now_ns)
        except ConfigError as e:
            raise ConfigError(problems + e.problems) from None
        if problems:
            raise ConfigError(problems)
        if self.intervals is None and self.judge.windows:  # windowed thresholds need cuts
            self.intervals = IntervalRecorder(registry)
        self.open_model = OpenModelViews(self.store, specs, set(self.judge.targets),
                                         arrival_scenarios)
        self.cut_off = CutOffRequests(self.store)
        self.checks = CheckCounter(registry, self.store)
        self.endpoints = EndpointViews(self.store)
        #: the run's N slowest requests (the HTTP clients offer to it; a coordinator absorbs
        #: its workers'); None with --slowest 0
        self.slowest = SlowestRequests(cfg.slowest) if cfg.slowest > 0 else None
        self.slo = run_budgets([s.cls for s in specs], cfg.threshold_files)
        self.streams, self.prometheus = self._outputs(registry)
        self._live: LiveFigures | None = None
        self.summary: Summary | None = None
        self.judgement: Judgement | None = None
        #: a coordinator's additions to the `loadgen` JSON section and the summary warnings
        self.sections: dict[str, Any] = {}
        self.more_warnings: list[str] = []
        self.entries: dict[str, MetricEntry] = {}
        #: sections of the text summary printed before the verdicts (the run's events)
        self.more_text: list[str] = []
        #: judged after the thresholds: each `finish(results, judgement)` may add sections,
        #: warnings, text, verdicts and a failing exit code (the events and their recovery)
        self.addons: list[Any] = []
        #: the result files that could not be written (set by finish)
        self.failures: list[str] = []

    def _outputs(self, registry: Registry) -> tuple[Streams, PrometheusOutput | None]:
        """The `--out` files and endpoints, every problem of all of them at once."""
        problems: list[str] = []
        streams = prometheus = None
        try:
            streams = Streams(self.cfg.outputs, registry, self.store, self.timeseries,
                              self.judge.tset.by_metric())
        except ConfigError as e:
            problems += e.problems
        try:
            prometheus = open_prometheus(self.cfg.outputs, registry, self.store, self.judge)
        except ConfigError as e:
            problems += e.problems
        if streams is None or problems:
            if prometheus is not None:
                prometheus.close()
            raise ConfigError(problems)
        return streams, prometheus

    def live_figures(self) -> LiveFigures:
        """The live progress's per-scenario figures (fed from here on: ask before the run)."""
        if self._live is None:
            self._live = LiveFigures(self.store, self.judge)
        return self._live

    # -- engine callbacks -----------------------------------------------------------------
    def started(self, start_ns: int, wall_ns: int | None = None) -> None:
        """The test run started (before setup): the time series' origin (`wall_ns`: its
        wall-clock time when that is not now, as for archives being merged)."""
        self.timeseries.origin_ns = start_ns
        self.streams.start(start_ns, wall_ns)
        self._start_ns = self._cut_ns = start_ns
        if self.now_ns is not None:  # a live run (not a merge): windows start with the load
            self.judge.windows.wait_for_load()
        if self.intervals is not None:
            self.intervals.start(start_ns)
        if self.archive is not None:
            self.archive.start()

    def exec_started(self, exec_start_ns: int) -> None:
        self.judge.exec_started(exec_start_ns)

    def ingest(self, records: list[tuple[object, ...]]) -> None:
        self.store.ingest(records)
        self.streams.after_ingest()
        if self.intervals is not None:
            self.intervals.ingest(records)
            if self.now_ns is not None:
                now = self.now_ns()
                if now - self._cut_ns >= ARCHIVE_INTERVAL_NS:
                    self._cut(now)

    def absorb(self, iv: Interval) -> None:
        """Another process's interval (a `--workers` coordinator's): into the store and time
        series as if ingested here, and into the next cut, so the archive and the report get
        it merged with the rest of that second (the report of a run is then the report of a
        merge of its archive)."""
        apply(iv, self.store.registry, self.store, self.timeseries)
        if self.intervals is not None:
            self.intervals.absorb(iv)
        self.streams.after_ingest()

    def _cut(self, now_ns: int) -> None:
        """One interval snapshot into the archive, the windowed thresholds and the report
        (every second, and at the end)."""
        assert self.intervals is not None
        self._cut_ns = now_ns
        iv = self.intervals.cut((now_ns - self._start_ns) / 1e9, generator_health(self.watchers))
        if self.archive is not None:
            self.archive.interval(iv)
        self.observe(iv)

    def observe(self, iv: Interval) -> None:
        """An interval for the windowed thresholds and the report (this run's cut, or a
        coordinator's or merge's, already applied)."""
        if self.judge.windows:  # `p(99) over 1m`: a fleet's seconds are added up there
            self.judge.windows.add(iv)
        if self.html is not None:
            self.html.observe(iv)

    def tick(self, elapsed_s: float) -> StopRequest | None:
        return self.judge.tick(elapsed_s)

    # -- the end --------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the streams (also on the hard-exit path: the archive gets its
        last interval, without an end line)."""
        self.streams.close()
        if self.prometheus is not None:
            self.prometheus.close()
        if self.archive is not None and not self.archive.ended and self.now_ns is not None:
            self._cut(self.now_ns())
            self.archive.close()

    def finish(self, outcome: Outcome) -> int:
        """Final judgement, summaries and files; returns the process exit code."""
        if self.intervals is not None and self.now_ns is not None:
            self._cut(self.now_ns())
        judgement = self.judgement = self.judge.final(outcome)
        mark = AddonMark(self, judgement)
        for addon in self.addons:
            addon.finish(self, judgement)
        if self.archive is not None and self.now_ns is not None:  # with what addons added
            self.archive.end(outcome.duration_ns, outcome.exit_code, outcome.reason,
                             mark.trailer(self, judgement))
        self.close()
        failures = list(self.streams.failures)
        if self.archive is not None and self.archive.failure:
            failures.append(self.archive.failure)
        if not self.cfg.no_summary or self.cfg.after_run is not None or self.cfg.report:
            self.summary = self.report(outcome, judgement)
        if not self.cfg.no_summary and self.summary is not None:
            failures += write_report(self.cfg, self.summary, judgement,
                                     self.summary.data["loadgen"]["warnings"],
                                     "".join(self.more_text))
            if self.cfg.junit:
                from loadgen.results.junit import write_junit

                failures += write_junit(self.cfg.junit, self.judge, judgement,
                                        self.checks.tree, outcome, self.sections.get("events"))
        if self.cfg.report and self.summary is not None:
            from loadgen.report.build import write_html_report

            if failure := write_html_report(
                    self.cfg.report, self.summary.data, self.html, exit_code=judgement.exit_code,
                    pvalues=self.summary.threshold_values,
                    run_info=self.run_info or run_info(self.specs),
                    history=self.cfg.after_run.report_comparison(
                        self.summary.data, self.entries, judgement.exit_code)
                    if self.cfg.after_run is not None else None):
                failures.append(failure)
        log_breach(judgement)
        self.failures = failures
        code = self._exit_code(judgement.exit_code, failures)
        if self.cfg.after_run is not None and self.summary is not None:
            code = self.cfg.after_run.finish(self.summary.data, self.entries, code)
        return code

    def report(self, outcome: Outcome, judgement: Judgement) -> Summary:
        """The summary data (nothing written), its metric entries kept in `entries`."""
        extra = loadgen_section(outcome, judgement, self.open_model.values(), self.watchers,
                                self.cut_off.warnings() + self.more_warnings)
        extra.update(self.sections)
        self._per_endpoint(extra, outcome.duration_ns / 1e9)
        self.entries = metric_entries(self.store, self.judge.targets, judgement.thresholds)
        summary = build_report(self.cfg, self.entries, self.checks.tree, outcome, extra,
                               judgement.no_samples)
        for key, source, value in self.judge.windows.shown():  # the text summary's values
            summary.threshold_values.setdefault(key, {})[source] = value
        return summary

    def _per_endpoint(self, extra: dict[str, Any], duration_s: float) -> None:
        """`loadgen.endpoints` always; `slo` and `slowest_requests` when asked for."""
        extra["endpoints"] = self.endpoints.rows(duration_s)
        if self.slo:
            extra["slo"] = self.slo
        if self.slowest is not None:
            extra["slowest_requests"] = self.slowest.rows()
        if (line := self.endpoints.warning()) is not None:
            extra["warnings"].append(line)

    @staticmethod
    def _exit_code(code: int, failures: list[str]) -> int:
        """A result file that could not be written fails an otherwise clean run (k6's 110,
        "test failed"): a CI gate must not pass on results nobody can read."""
        for f in failures:
            log.error("could not write %s", f)
        if failures and code == ExitCode.OK:
            return ExitCode.TEST_FAILED
        return code


def _report_problem(path: str | None) -> str | None:
    """--report's check before the run; the report's modules load only when it is asked for."""
    if not path:
        return None
    from loadgen.report.build import report_problem

    return report_problem("--report", path)
