"""The judge of a run: thresholds (k6's, during the run every 2 s and once at the end),
test-type monitors and verdicts, and the exit code.

It never reaches into the engine: during the run `tick()` answers with a stop request (or
None) and the engine acts on it; the engine hands in when the scenarios started. It reads
metrics only through the store and the time series, so it judges a fleet's merged data the
same way as one process's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen import thresholds as th
from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Outcome, ScenarioSpec, StopRequest
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import NAME_RE, Metric, MetricType, SubMetric
from loadgen.metrics.registry import Registry
from loadgen.metrics.sinks import Sink
from loadgen.metrics.timeseries import TimeSeries
from loadgen.results.windows import Windows
from loadgen.testtypes.base import TestType
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView

log = logging.getLogger("loadgen")
ABORT_REASON = "thresholds were crossed and at least one has abortOnFail enabled"


def threshold_problems(registry: Registry, classes: list[type], threshold_files: list[str],
                       *, scraping: bool = False) -> list[str]:
    """Every threshold problem of these scenario classes and files, found without a plan, so
    that a file whose executor is wrong gets its threshold errors listed in the same pass."""
    problems: list[str] = []
    sources = []
    for c in classes:
        if isinstance(getattr(c, "thresholds", None), dict):
            try:  # a malformed `slo` is listed with the rest
                sources.append(c.effective_thresholds())  # type: ignore[attr-defined]
            except ConfigError as e:
                problems += e.problems
    for f in threshold_files:
        try:
            sources.append(th.load_threshold_file(f))
        except ConfigError as e:
            problems += e.problems
    try:
        raw = th.merge_thresholds(sources)
    except ConfigError as e:
        return problems + e.problems
    types = {name: m.type for name, m in registry.metrics.items()}
    if scraping:  # as Judge does: an unknown name is taken to be a scraped gauge
        for key in raw:
            parent = key.partition("{")[0].strip()
            if parent not in types and NAME_RE.match(parent):
                types[parent] = MetricType.GAUGE
    return problems + th.validate(raw, types)


@dataclass
class Judgement:
    """What the judge decided at the end of a run."""

    exit_code: int
    evaluation: th.Evaluation | None
    verdicts: list[Verdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: per threshold key, (source, passed) of each expression; empty when none were judged
    thresholds: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    #: threshold keys failed because their metric had no samples at all
    no_samples: list[str] = field(default_factory=list)


class Judge:
    def __init__(self, registry: Registry, store: Store, timeseries: TimeSeries,
                 specs: list[ScenarioSpec], threshold_files: list[str], *, enabled: bool = True,
                 scraping: bool = False, now_ns: Callable[[], int] | None = None) -> None:
        """Merge, validate and parse every threshold (all problems at once: ConfigError)."""
        self.store = store
        self.timeseries = timeseries
        self.specs = specs
        self.enabled = enabled
        self.now_ns = now_ns
        self.exec_start_ns: int | None = None
        self.scrape_defined: set[str] = set()  # threshold names only a scrape can fill
        self._stop_sent = False
        self._memo: dict[str, dict[str, object]] = {}  # per scenario, for its monitor
        raw = th.merge_thresholds(
            [s.cls.effective_thresholds() for s in specs]  # type: ignore[attr-defined]
            + [th.load_threshold_file(f) for f in threshold_files])
        if scraping:
            # Scraped series are known only once the target answers: a threshold on a name
            # nobody else defines is taken to be about one of them (a gauge, as scraped).
            for key in raw:
                parent = key.partition("{")[0].strip()
                if parent not in registry.metrics and NAME_RE.match(parent):
                    registry.define(parent, MetricType.GAUGE)
                    self.scrape_defined.add(parent)
        types = {name: m.type for name, m in registry.metrics.items()}
        problems = th.validate(raw, types)
        if problems:
            raise ConfigError(problems)
        self.tset = th.parse(raw, types)
        #: `p(99) over 1m < 300`: fed one interval snapshot a second by the pipeline
        self.windows = Windows(self.tset)
        self.targets: dict[str, Metric | SubMetric] = {}
        for mt in self.tset.metrics:
            if mt.suffix is not None and mt.tags is not None:
                self.targets[mt.name] = store.add_submetric(mt.parent, mt.suffix, mt.tags)
            else:
                self.targets[mt.name] = registry[mt.parent]

    # -- during the run -------------------------------------------------------------------
    def exec_started(self, exec_start_ns: int) -> None:
        """The engine's T0 for executors (after setup): test-type views are relative to it,
        and windowed thresholds start there."""
        self.exec_start_ns = exec_start_ns
        self.windows.load_started((exec_start_ns - self.timeseries.origin_ns) / 1e9)

    def views(self, final: bool = False) -> list[tuple[type[TestType], RunView]]:
        """(test type class, RunView) for every scenario that is a test type."""
        if self.exec_start_ns is None or self.now_ns is None:
            return []
        now = self.now_ns()
        out = []
        for s in self.specs:
            if isinstance(s.cls, type) and issubclass(s.cls, TestType):
                start = self.exec_start_ns + s.offset_ns + s.executor.start_time_ns
                start_s = (start - self.timeseries.origin_ns) / 1e9
                ran = max(0.0, (now - start) / 1e9)
                out.append((s.cls, RunView(self.timeseries, s.name, start_s, ran, self.store,
                                           final, s.executor.duration_ns() / 1e9,
                                           plan=s.plan,
                                           memo=self._memo.setdefault(s.name, {}))))
        return out

    def tick(self, elapsed_s: float) -> StopRequest | None:
        """Every 2 s: a test type that knows its answer, or a threshold with abortOnFail,
        asks the engine to stop (the first request wins)."""
        for cls, view in self.views():
            reason = cls.monitor(view)
            if reason and not self._stop_sent:
                self._stop_sent = True
                log.info(reason)
                return StopRequest(reason, ExitCode.OK)
        if not self.enabled or not self.tset.metrics:
            return None
        ev = th.evaluate(self.tset, self.sink, elapsed_s, final=False,
                         windowed=self.windows.ok)
        if ev.abort:
            log.error(ev.message())
            return StopRequest(ABORT_REASON, ExitCode.THRESHOLDS_FAILED)
        return None

    def sink(self, name: str) -> Sink | None:
        """The sink a threshold reads (None: no samples)."""
        target = self.targets.get(name)
        if target is None:
            return self.store.get(name)
        return self.store.existing(target)

    # -- the end --------------------------------------------------------------------------
    def final(self, outcome: Outcome) -> Judgement:
        """Final threshold evaluation and verdicts -> the exit code."""
        ev = None
        warnings: list[str] = []
        empty: list[str] = []
        if self.enabled and self.tset.metrics:
            self.windows.flush()
            ev = th.evaluate(self.tset, self.sink, outcome.duration_ns / 1e9, final=True,
                             windowed=self.windows.ok)
            for line in self.windows.undecided():
                log.warning(line)  # loudly: a gate that could not be judged is not a pass
                warnings.append(line)
            warnings += self._fail_unseen_scrapes(ev)
            warnings += self._fail_empty(ev, empty)
        verdicts = [v for cls, view in self.views(final=True)
                    if (v := cls.verdict(view)) is not None]
        code = outcome.exit_code
        if code == ExitCode.OK and ev is not None and ev.breached:
            code = ExitCode.THRESHOLDS_FAILED
        failed = [v for v in verdicts if v.ok is False]
        if code == ExitCode.OK and failed:
            code = ExitCode.THRESHOLDS_FAILED
            for v in failed:
                log.error("verdict of %s (%s) failed: %s", v.scenario, v.kind, v.headline)
        return Judgement(code, ev, verdicts, warnings,
                         self.tset.results() if ev is not None else {}, empty)

    def _fail_empty(self, ev: th.Evaluation, empty: list[str]) -> list[str]:
        """A trend or rate threshold with no samples at all fails, loudly.

        k6 passes `p(95)<500` and `rate<0.01` on an empty metric (its §3.6), so a target
        that never answered, or a selector with a typo, passes a latency gate. Counters and
        gauges keep k6's rule (0 is a real count: `count<1` with no 500s is a pass)."""
        warnings = []
        for mt in self.tset.metrics:
            if mt.type not in (MetricType.TREND, MetricType.RATE) or (
                    mt.parent in self.scrape_defined):
                continue
            sink = self.sink(mt.name)
            if sink is not None and not sink.empty:
                continue
            passed = [s.source for s, ok in zip(mt.specs, mt.last_ok, strict=True) if ok]
            _fail(mt, ev)
            empty.append(mt.name)
            msg = (f"threshold on {mt.name}: no samples at all, so nothing to judge; counted "
                   "as failed" + (f" (k6 would pass {', '.join(passed)})" if passed else ""))
            log.warning(msg)  # in the log too: --no-summary must not hide it
            warnings.append(msg)
        return warnings

    def _fail_unseen_scrapes(self, ev: th.Evaluation) -> list[str]:
        """A threshold on a scraped name that never arrived fails (a typo must not pass as
        a zero), with a warning that says so."""
        warnings = []
        for mt in self.tset.metrics:
            sink = self.store.get(mt.parent)
            if mt.parent in self.scrape_defined and (sink is None or sink.empty):
                _fail(mt, ev)
                warnings.append(
                    f"threshold on {mt.parent}: no scraped series of that name was ever seen "
                    "(check the name and the --scrape URL); counted as failed")
        return warnings


def _fail(mt: th.MetricThresholds, ev: th.Evaluation) -> None:
    """Count every threshold of `mt` as failed in this evaluation."""
    mt.last_ok = [False] * len(mt.specs)
    if mt.name not in ev.breached:
        ev.breached.append(mt.name)
        ev.breached.sort()


def log_breach(judgement: Judgement) -> None:
    """k6's closing error line when thresholds failed the run."""
    ev = judgement.evaluation
    if ev is not None and ev.breached and judgement.exit_code == ExitCode.THRESHOLDS_FAILED:
        log.error(ev.message())
