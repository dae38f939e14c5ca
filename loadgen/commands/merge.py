"""`loadgen merge ARCHIVE...`: one verdict over several runs' archives (independent instances,
e.g. k6-style execution segments on several machines) — the same text summary, JSON files and
exit code as one run over all their samples.

Every archive is validated first, whole (a bad one costs nothing: exit 104 naming the file
and the line), then the intervals of all archives are fed, in time order (seconds since each
run's start: instances are taken to have started together), into the same `Results`
pipeline a run uses. Memory: one decoded interval per archive at a time, plus the sinks.
"""

from __future__ import annotations

import heapq
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, cast

from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.execution.engine import Outcome, ScenarioSpec
from loadgen.metrics.registry import Registry
from loadgen.report.runinfo import archive_info
from loadgen.results.archive import ArchiveError, ArchiveInfo, intervals, scan
from loadgen.results.config import ResultsConfig
from loadgen.results.instances import InstanceCpu, SummedGauges
from loadgen.results.interval import Interval, apply, interval_store
from loadgen.results.pipeline import Results
from loadgen.slo import merge_budgets, parse_slo
from loadgen.watch.generator import GeneratorWatch, Saturation

log = logging.getLogger("loadgen")
ARRIVAL = ("ConstantArrivalRate", "RampingArrivalRate")


def merge_archives(paths: list[str], rcfg: ResultsConfig) -> int:
    return merge_results(paths, rcfg)[0]


def merge_results(paths: list[str], rcfg: ResultsConfig) -> tuple[int, Results | None]:
    """The exit code, and the pipeline that judged the merged run (None: bad input)."""
    logging.basicConfig(level=logging.INFO, format="level=%(levelname)s msg=%(message)s",
                        stream=sys.stderr)
    try:
        infos = read_all(paths)
        bucket_outputs_only(rcfg.outputs)
        if rcfg.after_run is not None:
            rcfg.after_run.scenario_file(str(infos[0].header["script"].get("name") or "merge"))
        results = replay(infos, rcfg)
    except LoadgenError as e:
        print(f"loadgen: {e}", file=sys.stderr)
        return e.exit_code, None
    return results.finish(outcome(infos)), results


def _numbered(n: int, info: ArchiveInfo) -> Iterator[tuple[int, Interval]]:
    for iv in intervals(info):
        yield n, iv


def replay(infos: list[ArchiveInfo], rcfg: ResultsConfig) -> Results:
    """The archives' intervals fed through a results pipeline, ready to finish (also how
    `loadgen compare` reads an archive)."""
    registry = build_registry(infos)
    head = infos[0].header
    arrival = [s["name"] for s in head["scenarios"] if s.get("executor") in ARRIVAL]
    health = GeneratorWatch(registry, _NullRecorder(), ())  # type: ignore[arg-type]
    results = Results(registry, [_declared(head["thresholds"])], rcfg, watchers=[health],
                      arrival_scenarios=arrival, store_factory=interval_store)
    results.slo = merge_budgets([*(parse_slo(i.header["slo"], f"archive {i.path}")
                                   for i in infos if "slo" in i.header), results.slo])
    results.run_info = archive_info(head, [i.path for i in infos])
    results.started(0, min(int(i.header["start"]["unix_ns"]) for i in infos))
    cpu, summed = InstanceCpu(), SummedGauges(registry, results.store, results.timeseries)
    for n, iv in heapq.merge(*(_numbered(n, i) for n, i in enumerate(infos)),
                             key=lambda p: p[1].start_s):
        results.observe(iv)  # the report sums each second's VUs itself
        summed.take(n, iv)  # vus, vus_max: summed across the archives (taken out of iv)
        cpu.take(iv, infos[n].path)
        apply(iv, registry, results.store, results.timeseries)
        _health(health, iv.health)
    summed.finish()
    results.sections["instances"] = cpu.apply(results.store, registry)
    return results


def read_all(paths: list[str]) -> list[ArchiveInfo]:
    """Scan every archive and check they are parts of one test (all problems at once)."""
    problems: list[str] = []
    infos: list[ArchiveInfo] = []
    for p in paths:
        try:
            infos.append(scan(p))
        except ArchiveError as e:
            problems += e.problems
    if problems:
        raise ArchiveError(problems)
    first = infos[0]
    seen: dict[str, str] = {}
    for info in infos:
        h = info.header
        run_id = json.dumps([h.get("start"), h.get("tags"), h.get("execution_segment")])
        if run_id in seen:
            problems.append(f"archives {seen[run_id]} and {info.path} are the same run "
                            "(merging it twice would count its samples twice)")
        seen.setdefault(run_id, info.path)
    for info in infos[1:]:
        a, b = first.header, info.header
        if a["script"] != b["script"]:
            problems.append(
                f"archives of different scenario files: {first.path} ran "
                f"{a['script'].get('name')} (sha256 {str(a['script'].get('sha256'))[:12]}), "
                f"{info.path} ran {b['script'].get('name')} "
                f"(sha256 {str(b['script'].get('sha256'))[:12]})")
        elif a.get("thresholds") != b.get("thresholds"):
            problems.append(f"archives {first.path} and {info.path} declare different "
                            "thresholds (give extra ones to merge with --thresholds)")
        if a.get("interval_s") != b.get("interval_s"):
            problems.append(f"archives {first.path} and {info.path} have different interval "
                            "lengths")
        for name, t in info.types.items():
            if name in first.types and first.types[name] != t:
                problems.append(f"metric {name} is a {first.types[name][0].value} in "
                                f"{first.path} but a {t[0].value} in {info.path}")
    if problems:
        raise ArchiveError(problems)
    return infos


def build_registry(infos: list[ArchiveInfo]) -> Registry:
    registry = Registry()
    for info in infos:
        for name, (mtype, contains) in info.types.items():
            if name not in registry.metrics:
                registry.define(name, mtype, contains)
    return registry


def outcome(infos: list[ArchiveInfo]) -> Outcome:
    """The runs as one: the longest duration (instances run side by side), the first
    non-zero engine exit code (a stop, an abort, Ctrl-C); an archive without its end line
    (a killed run) makes the merge "interrupted" (105) with a warning naming it."""
    duration = 0
    code, reason = int(ExitCode.OK), ""
    for info in infos:
        if info.end is None:
            log.warning("archive %s has no end line: that run was killed after %.1f s; its "
                        "%d intervals are merged, the result is marked interrupted",
                        info.path, info.last_end_s, info.intervals)
            duration = max(duration, int(info.last_end_s * 1e9))
            if code == ExitCode.OK:
                code, reason = int(ExitCode.EXTERNAL_ABORT), f"{info.path}: run killed"
            continue
        duration = max(duration, int(info.end["duration_ns"]))
        if code == ExitCode.OK and info.end["exit_code"] != ExitCode.OK:
            code, reason = int(info.end["exit_code"]), str(info.end.get("reason", ""))
    return Outcome(code, duration, reason)


def bucket_outputs_only(outputs: list[str]) -> None:
    """An archive keeps per-second aggregates, not every sample: only the per-interval
    NDJSON stream can be written from it."""
    bad = [o for o in outputs if "points=buckets" not in o.partition("?")[2]]
    if bad:
        raise ConfigError([f"-o {o}: an archive keeps per-second aggregates, not every "
                           "sample; merge writes json=FILE?points=buckets" for o in bad])


def _declared(thresholds: Any) -> ScenarioSpec:
    """A stand-in scenario carrying the archived thresholds (scenarios' and files', merged)
    to the judge, which reads thresholds from scenario classes."""
    if not isinstance(thresholds, dict):
        raise ConfigError("archive header: thresholds is not an object")
    cls = type("ArchivedThresholds", (), {
        "effective_thresholds": classmethod(lambda c: thresholds)})
    return ScenarioSpec("archived", cls, cast(Any, None))


def _health(w: GeneratorWatch, h: dict[str, Any]) -> None:
    if not h:
        return
    sat = sorted({tuple(x) for x in [*w.saturation.intervals, *h.get("saturated", ())]})
    w.saturation = Saturation([(float(a), float(b)) for a, b in sat],
                              max(w.saturation.seconds, int(h.get("saturated_seconds", 0))))
    w.worst_lag_ms = max(w.worst_lag_ms, float(h.get("worst_lag_ms", 0.0)))
    w.peak_cpu = max(w.peak_cpu, float(h.get("peak_cpu", 0.0)))


class _NullRecorder:
    """The merge's generator watch never runs: it only carries the archived health."""

    def sample(self, *args: Any) -> None:
        return None
