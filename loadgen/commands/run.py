"""One `loadgen run`: load the file, plan, run the engine on uvloop, report, pick the exit code.

This is glue: every step it calls lives in its own module. It owns the process-level
concerns: the event loop, signals and turning errors into k6's exit codes. The first Ctrl-C
(or SIGTERM) stops the run gracefully — a stalled setup()/teardown() included — and still
reports and writes every file (exit 105); a second one quits at once (exit 105 too) with the
NDJSON stream flushed and no traceback: whatever was written stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from loadgen.clock import RealClock
from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.events.wire import attach_events, with_events
from loadgen.execution.engine import Engine, Hooks, Outcome, ScenarioSpec
from loadgen.execution.plan import Overrides, build_plan, describe
from loadgen.execution.progress import Progress
from loadgen.execution.runtime import RunContext
from loadgen.execution.segments import FULL_TUPLE
from loadgen.execution.segments import resolve as resolve_segment
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.slowest import MAX_SLOWEST
from loadgen.net.limiter import RateLimiter
from loadgen.net.limits import DEFAULT_MAX_RESPONSE_BYTES
from loadgen.net.redact import redact
from loadgen.net.trace import TraceIds
from loadgen.net.types import Transport
from loadgen.options import (
    LARGE_RATE,
    LARGE_VUS,
    MAX_RATE,
    MAX_VUS,
    check_number,
    parse_cli_stage,
    parse_key_values,
)
from loadgen.report.runinfo import run_info
from loadgen.results.archive import (
    ArchiveWriter,
    build_header,
    declared_thresholds,
    execution_segment,
)
from loadgen.results.config import ResultsConfig
from loadgen.results.judge import threshold_problems
from loadgen.results.pipeline import Results
from loadgen.scripting.scenario import load_file
from loadgen.thresholds import run_budgets
from loadgen.watch.generator import GeneratorWatch
from loadgen.watch.scrape import url_problem
from loadgen.watch.target import ProcessWatch, ScrapeWatch

if TYPE_CHECKING:  # the events' modules load only for scenarios that declare some
    from loadgen.events.results import EventResults

log = logging.getLogger("loadgen")
T = TypeVar("T")


@dataclass
class RunConfig:
    file: str
    overrides: Overrides
    classes: list[Any] | None = None  # given instead of a file by `loadgen http`
    run_tags: dict[str, str] = field(default_factory=dict)
    rps_limit: float | None = None
    http_client: str | None = None
    insecure: bool = False
    #: each transport's body cap (--max-response-bytes); 0 = none
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    quiet: bool = False
    progress_interval: float | None = None  # seconds between progress frames
    results: ResultsConfig = field(default_factory=ResultsConfig)
    monitor_pids: list[int] = field(default_factory=list)
    scrape_urls: list[str] = field(default_factory=list)
    #: `loadgen http`'s request (method, url, headers, body, expect), for fleet workers
    endpoint: dict[str, Any] | None = None
    #: --events-off: the scenarios' events (and recovery verdicts) are not run
    events_off: bool = False
    trace: TraceIds | None = None  # --trace-header: a trace id with each request

    @classmethod
    def from_cli(cls, kw: dict[str, Any]) -> RunConfig:
        problems: list[str] = []
        stages = []
        for s in kw.get("stages") or ():
            try:
                stages.append(parse_cli_stage(s))
            except ValueError as e:
                problems.append(str(e))
        env = tags = {}
        try:
            env = parse_key_values(kw.get("env") or (), "--env")
            tags = parse_key_values(kw.get("tags") or (), "--tag")
        except ConfigError as e:
            problems += e.problems
        problems += number_problems(kw)
        cap = kw.get("max_response_bytes")
        if cap is None:
            cap = DEFAULT_MAX_RESPONSE_BYTES
        elif cap < 0:
            problems.append(f"--max-response-bytes must be >= 0 (0: no cap), got {cap}")
        segment = FULL_TUPLE
        try:
            segment = resolve_segment(kw.get("execution_segment"),
                                      kw.get("execution_segment_sequence"))
        except ConfigError as e:
            problems += e.problems
        if not 0 <= int(kw.get("slowest") or 0) <= MAX_SLOWEST:
            problems.append(f"--slowest must be 0 (off) to {MAX_SLOWEST}, got {kw['slowest']}")
        trace = None
        if kw.get("trace_header") is not None:
            try:
                trace = TraceIds(kw["trace_header"])
            except ConfigError as e:
                problems += e.problems
        if problems:
            raise ConfigError(problems)
        o = Overrides(segment=segment, vus=kw.get("vus"), duration=kw.get("duration"),
                      iterations=kw.get("iterations"), stages=stages, rps=kw.get("rps"),
                      max_vus=kw.get("max_vus"), scenarios=list(kw.get("scenarios") or ()),
                      env=env)
        return cls(file=kw["file"], overrides=o, run_tags=tags, rps_limit=kw.get("rps_limit"),
                   http_client=kw.get("http_client"), insecure=kw.get("insecure_skip_tls_verify",
                                                                     False),
                   max_response_bytes=cap, quiet=kw.get("quiet", False),
                   progress_interval=kw.get("progress_interval"),
                   results=ResultsConfig.from_cli(kw),
                   monitor_pids=list(kw.get("monitor_pids") or ()),
                   scrape_urls=list(kw.get("scrape_urls") or ()),
                   events_off=bool(kw.get("events_off")), trace=trace)


def number_problems(kw: dict[str, Any]) -> list[str]:
    """Rates and VU counts that are not finite, negative or absurd (exit 104); large but
    possible ones get a warning."""
    checks = [check_number("--rps", kw.get("rps"), low=0, high=MAX_RATE, low_inclusive=False),
              check_number("--rps-limit", kw.get("rps_limit"), low=0, high=MAX_RATE,
                           low_inclusive=False),
              check_number("--max-vus", kw.get("max_vus"), low=1, high=MAX_VUS),
              check_number("--vus", kw.get("vus"), low=0, high=MAX_VUS),
              check_number("--iterations", kw.get("iterations"), low=0, high=1e12),
              check_number("--progress-interval", kw.get("progress_interval"), low=0,
                           high=86_400, low_inclusive=False)]
    for flag, large in (("rps", LARGE_RATE), ("vus", LARGE_VUS), ("max_vus", LARGE_VUS)):
        v = kw.get(flag)
        if v is not None and math.isfinite(v) and large < v <= (
                MAX_RATE if flag == "rps" else MAX_VUS):
            log.warning("--%s %g is more than one process usually sustains; watch the "
                        "generator's saturation warnings", flag.replace("_", "-"), v)
    if kw.get("rps") is not None and kw.get("vus") is not None and kw.get("max_vus") is None:
        log.warning("--rps %g with --vus %d: loadgen's --rps is an open-model arrival rate "
                    "(%g iterations/s, VUs grow as needed); k6's --rps, a cap on requests "
                    "per second for closed-model VUs, is loadgen's --rps-limit", kw["rps"],
                    kw["vus"], kw["rps"])
    return [p for p in checks if p]


def transport_factory(name: str | None, insecure: bool,
                      max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                      ) -> Callable[[], Transport]:
    """The default is the fast transport when it is installed, else aiohttp."""
    if name in (None, "fast"):
        try:
            from loadgen.net.fast import FastTransport
        except ImportError:
            if name == "fast":
                raise ConfigError("--http-client fast is not available in this build") from None
        else:
            return lambda: FastTransport(insecure_skip_tls_verify=insecure,
                                         max_response_bytes=max_response_bytes)
    from loadgen.net.aiohttp_transport import AiohttpTransport

    return lambda: AiohttpTransport(insecure_skip_tls_verify=insecure,
                                    max_response_bytes=max_response_bytes)


def load_plan(cfg: RunConfig, problems: Sequence[str] = ()
              ) -> tuple[Registry, list[ScenarioSpec], list[str]]:
    """Load the file and plan it: its registry (custom metrics defined), the specs and the
    banner's notes. Any `problems` the caller found are raised together with the file's
    executor and threshold problems, so a user sees all of them at once."""
    classes, custom = (cfg.classes, []) if cfg.classes else load_file(cfg.file)
    registry = Registry()
    for cm in custom:
        registry.define(cm.name, cm.type, cm.contains)
    notes: list[str] = []
    try:
        specs = build_plan(classes, cfg.overrides, notes)
    except ConfigError as e:
        raise ConfigError([*problems, *e.problems, *threshold_problems(
            registry, classes, list(cfg.results.threshold_files),
            scraping=bool(cfg.scrape_urls))]) from None
    if problems:
        raise ConfigError(list(problems))
    return registry, specs, notes


def run_file(cfg: RunConfig, keep: Callable[[Results], None] | None = None,
             *, raise_early: bool = False) -> int:
    """The run: 0, 99 or another k6 exit code. `keep` receives the results pipeline (the
    Python API reads the summary and judgement from it); `raise_early`: a problem found
    before the load starts is raised, not printed (the API's callers get the exception)."""
    logging.basicConfig(level=logging.INFO, format="level=%(levelname)s msg=%(message)s",
                        stream=sys.stderr)
    try:
        registry, specs, notes = load_plan(cfg)
        recorder = Recorder()
        clock = RealClock()
        watchers = make_watchers(cfg, registry, recorder)
        results = Results(registry, specs, cfg.results, scraping=bool(cfg.scrape_urls),
                          watchers=watchers, now_ns=clock.now_ns,
                          archive=make_archive(cfg, specs, registry))
        events = attach_events(specs, results, clock, registry, run_env(cfg), cfg.events_off,
                               notes, cfg.insecure)
        results.run_info = run_info(specs, cfg.file, cfg.overrides)
        if keep is not None:
            keep(results)
    except LoadgenError as e:
        if raise_early:
            raise
        print(f"loadgen: {redact(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # Ctrl-C while the file loads: nothing ran, nothing to report
        print("\nloadgen: interrupted before the run started", file=sys.stderr)
        return ExitCode.EXTERNAL_ABORT
    if not cfg.quiet:  # `loadgen http GET URL` shows its URL here: never with a password
        banner = describe(specs, cfg.overrides.segment) + notes
        print("\n".join(["", f"     script: {redact(str(cfg.file))}",
                         *(f"     {line}" for line in banner), ""]), file=sys.stderr)
    try:
        outcome = _run_loop(_run_async(cfg, clock, specs, registry, recorder, results,
                                       watchers, events))
    except LoadgenError as e:
        results.close()
        print(f"loadgen: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # before the loop's own signal handlers were in place
        results.close()
        print("\nloadgen: interrupted as the run started", file=sys.stderr)
        return ExitCode.EXTERNAL_ABORT
    # from here on (the summary and the files) a signal means "quit at once"
    for sig in (signal.SIGINT, signal.SIGTERM) if on_main_thread() else ():
        signal.signal(sig, lambda *_: quit_at_once(results))
    return results.finish(outcome)


def on_main_thread() -> bool:
    """Signal handlers can only be installed there; the API may run a test in a thread."""
    return threading.current_thread() is threading.main_thread()


def make_archive(cfg: RunConfig, specs: list[Any], registry: Registry,
                 ) -> ArchiveWriter | None:
    """The --archive writer, with the run's header (written when the run starts)."""
    path = cfg.results.archive
    if not path:
        return None
    files = list(cfg.results.threshold_files)
    header = build_header(
        script=cfg.file, specs=specs, thresholds=declared_thresholds(specs, files),
        registry=registry, tags=cfg.run_tags, segment=execution_segment(cfg))
    if slo := run_budgets([s.cls for s in specs], files):  # for `loadgen.slo` after a merge
        header["slo"] = slo
    return ArchiveWriter(path, header, registry)


def quit_at_once(results: Results) -> None:
    """The second Ctrl-C: flush the NDJSON stream, say so, exit 105 without unwinding (no
    cleanup left to wait for, no traceback)."""
    print("\nloadgen: interrupted again; quitting at once (the NDJSON stream keeps what it "
          "had; the summary files are not written)", file=sys.stderr)
    with contextlib.suppress(Exception):  # nothing may stand between Ctrl-C and the exit
        for addon in results.addons:  # running events' shells: killed, not left behind
            addon.kill_now()
    with contextlib.suppress(Exception):
        results.close()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(ExitCode.EXTERNAL_ABORT)


# how long tasks still running after the run (a user task that ignores cancellation) get
# to finish before the loop is closed anyway
LEFTOVER_GRACE_S = 2.0


def _run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop (asyncio's loop without it); the tasks left at the end are cancelled
    and given LEFTOVER_GRACE_S, never waited for without a deadline (asyncio.run does)."""
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=LEFTOVER_GRACE_S))
                if stuck:
                    log.warning("%d task(s) of the run ignored cancellation for %g s; "
                                "abandoned", len(stuck), LEFTOVER_GRACE_S)
                    for task in stuck:  # reported just above; asyncio would add a stack
                        setattr(task, "_log_destroy_pending", False)  # noqa: B010
            loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(),
                                                     LEFTOVER_GRACE_S))
        except (TimeoutError, RuntimeError):
            pass
        finally:
            loop.close()


def make_watchers(cfg: RunConfig, registry: Registry, recorder: Recorder) -> list[Any]:
    """The generator watch (always) and the target watches the flags ask for."""
    tags = tagset(cfg.run_tags)
    watchers: list[Any] = [GeneratorWatch(registry, recorder, tags)]
    problems = []
    for pid in cfg.monitor_pids:
        try:
            watchers.append(ProcessWatch(pid, registry, recorder, tags))
        except Exception as e:  # noqa: BLE001 - psutil.NoSuchProcess / AccessDenied
            problems.append(f"--monitor-pid {pid}: {e}")
    for url in cfg.scrape_urls:
        problem = url_problem(url)
        if problem:
            problems.append(problem)
        else:
            watchers.append(ScrapeWatch(url, registry, recorder, cfg.run_tags))
    if problems:
        raise ConfigError(problems)
    return watchers


def run_env(cfg: RunConfig) -> dict[str, str]:
    """The scenarios' environment: the process's plus -e."""
    return {**os.environ, **cfg.overrides.env}


async def _run_async(cfg: RunConfig, clock: RealClock, specs: list[Any], registry: Registry,
                     recorder: Recorder, results: Results, watchers: list[Any],
                     events: EventResults | None = None) -> Outcome:
    env = run_env(cfg)
    run = RunContext(clock, registry, recorder, transport_factory(cfg.http_client, cfg.insecure,
                                                                 cfg.max_response_bytes),
                     env=env, run_tags=cfg.run_tags, insecure=cfg.insecure,
                     segment=cfg.overrides.segment,
                     limiter=RateLimiter(cfg.rps_limit, clock) if cfg.rps_limit else None,
                     slowest=results.slowest, trace=cfg.trace)
    progress = Progress(enabled=not cfg.quiet, watch=watchers[0], every=cfg.progress_interval,
                        live=None if cfg.quiet else results.live_figures())
    engine = Engine(run, specs, with_events(Hooks(
        ingest=results.ingest, tick=results.tick, progress=progress, started=results.started,
        exec_started=results.exec_started, background=[w.run for w in watchers]), events))
    if events is not None:
        events.tracker = run.existing_tracker
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            print("\nloadgen: stopping (interrupted); press Ctrl-C again to quit at once",
                  file=sys.stderr)
            engine.stop("interrupted by signal", ExitCode.EXTERNAL_ABORT)
            if events is not None:
                events.runner.stop("interrupted by signal")
        else:
            quit_at_once(results)

    sigs = (signal.SIGINT, signal.SIGTERM) if on_main_thread() else ()
    for sig in sigs:
        loop.add_signal_handler(sig, on_signal)
    try:
        outcome = await engine.execute()
        if events is not None:
            await events.runner.close()
        return outcome
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)
