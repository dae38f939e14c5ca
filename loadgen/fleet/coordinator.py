"""`loadgen run FILE --workers N`: one run across N local processes, judged as one.

The coordinator plans once (to validate everything and print the banner), starts N workers
that each plan segment i/N of an even execution-segment sequence, waits for all of them to
be ready, runs setup() once, sends its data and one T0, merges their per-second intervals
into one `Results` pipeline (summary, files, live progress, thresholds every tick), runs
teardown() once and exits with a single run's code. Signals are handled as a single run
handles them: the first Ctrl-C stops the fleet and still writes every file (105).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loadgen.clock import RealClock
from loadgen.commands.run import (
    RunConfig,
    _run_loop,
    load_plan,
    make_archive,
    make_watchers,
    on_main_thread,
    quit_at_once,
    run_env,
    transport_factory,
)
from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.events.wire import attach_events, with_events
from loadgen.execution.engine import Engine, Hooks, Outcome
from loadgen.execution.plan import describe
from loadgen.execution.runtime import RunContext
from loadgen.fleet.fleet import Fleet, Link
from loadgen.fleet.local import ProcessLink
from loadgen.fleet.progress import FleetProgress
from loadgen.fleet.raw_points import append_parts, part_paths
from loadgen.fleet.sizing import choose, usable_cores
from loadgen.fleet.socket_link import (
    TOKEN_ENV,
    Listener,
    SocketLink,
    parse_address,
    script_payload,
)
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.redact import redact
from loadgen.report.runinfo import run_info
from loadgen.results.instances import COORDINATOR, INSTANCE_TAG
from loadgen.results.interval import interval_store
from loadgen.results.pipeline import Results
from loadgen.results.prometheus import is_prometheus
from loadgen.watch.generator import GeneratorWatch

if TYPE_CHECKING:
    from loadgen.events.results import EventResults

log = logging.getLogger("loadgen")


class Interrupted(LoadgenError):
    exit_code = ExitCode.EXTERNAL_ABORT


def fleet_problems(kw: dict[str, Any], cfg: RunConfig, elsewhere: bool) -> list[str]:
    """What a --workers run cannot do (yet), all at once (exit 104). `elsewhere`: workers
    on other machines (--listen, --ray ADDRESS), whose raw-point part files this one cannot
    read (a local Ray's actors run here: their parts can be)."""
    if not elsewhere:
        return []
    return [f"-o {o}: workers on other machines write no raw points here; write "
            "json=FILE?points=buckets (per-second aggregates)"
            for o in cfg.results.outputs if "points=buckets" not in o.partition("?")[2]
            and not is_prometheus(o)]  # served from the merged store


def endpoint_of(cfg: RunConfig) -> dict[str, Any] | None:
    """`loadgen http`'s request, for workers to rebuild the same one-line scenario."""
    ep = cfg.endpoint
    if ep is None:
        return None
    body = ep.get("body")
    return {**ep, "body": base64.b64encode(body).decode() if body is not None else None}


def run_fleet(cfg: RunConfig, kw: dict[str, Any], value: str, launcher: Any = None,
              remote: dict[str, Any] | None = None,
              keep: Callable[[Results], None] | None = None, raise_early: bool = False,
              ) -> int:
    """`value`: the --workers flag as given (N or auto); `launcher`: places the workers
    elsewhere (`start(n, now_ns)` -> links, `shutdown()`), else local processes; `remote`:
    --listen and its token (workers join over TCP instead of being started here); `keep`:
    receives the results pipeline (the Python API reads the judgement from it) and
    `raise_early` raises a problem found before the workers start instead of printing it."""
    logging.basicConfig(level=logging.INFO, format="level=%(levelname)s msg=%(message)s",
                        stream=sys.stderr)
    try:
        elsewhere = remote is not None or (launcher is not None
                                           and getattr(launcher, "address", "") != "local")
        problems = fleet_problems(kw, cfg, elsewhere)
        try:
            choose(value, [])  # a bad value is listed with every other problem
        except ConfigError as e:
            problems += e.problems
        if remote is not None:
            problems += remote_problems(value, remote)
        registry, specs, notes = load_plan(cfg, problems)
        targets = [s.base_url for s in specs] + [cfg.endpoint["url"] if cfg.endpoint else None]
        workers, why = choose(value, targets) or (1, "")
        if launcher is not None and value.strip().lower() == "auto" and not problems:
            workers, why = launcher.auto_workers(targets)  # the cluster's CPUs, not ours
        if remote is not None:
            why = f"joining over TCP at {remote['listen']}"
        recorder = Recorder()
        clock = RealClock()
        watchers = make_watchers(cfg, registry, recorder)
        for w in watchers:  # its own loop lag and CPU, told apart from the workers'
            if isinstance(w, GeneratorWatch):
                w.tags = tagset({**dict(w.tags), INSTANCE_TAG: COORDINATOR})
        results = Results(registry, specs, cfg.results, scraping=bool(cfg.scrape_urls),
                          watchers=watchers, now_ns=clock.now_ns, store_factory=interval_store,
                          archive=make_archive(cfg, specs, registry))
        events = attach_events(specs, results, clock, registry, run_env(cfg), cfg.events_off,
                               notes, cfg.insecure)
        results.run_info = run_info(specs, cfg.file, cfg.overrides, {"workers": value})
        if keep is not None:
            keep(results)
    except LoadgenError as e:
        if launcher is not None:
            launcher.shutdown()  # auto may have connected already
        if raise_early:
            raise
        print(f"loadgen: {redact(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("\nloadgen: interrupted before the run started", file=sys.stderr)
        return ExitCode.EXTERNAL_ABORT
    if remote is None and workers > (cores := usable_cores()):
        log.warning("--workers %d is more than the %d usable core(s): the workers share them "
                    "and each one's numbers get noisier", workers, cores)
    if not cfg.quiet:
        seg = cfg.overrides.segment
        banner = describe(specs, seg) + notes + [
            f"workers: {workers} {launcher.kind if launcher else 'processes'} ({why}), "
            f"each runs segment i/{workers} of {'its segment' if not seg.is_full else 'the test'}"]
        print("\n".join(["", f"     script: {redact(str(cfg.file))}",
                         *(f"     {line}" for line in banner), ""]), file=sys.stderr)
    config: dict[str, Any] = {"kw": _jsonable({**kw, "file": cfg.file}),
                              "endpoint": endpoint_of(cfg)}
    if remote is not None:
        config["script"] = None if cfg.classes else script_payload(cfg.file)
    parts = part_paths(cfg.results.outputs, workers)
    if any(parts):
        config["raw_parts"] = parts
    state: dict[str, Any] = {}
    try:
        outcome = _run_loop(_fleet_async(cfg, clock, specs, registry, recorder, results,
                                         watchers, workers, config, state, launcher,
                                         remote, events))
    except LoadgenError as e:
        results.close()
        print(f"loadgen: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        results.close()
        print("\nloadgen: interrupted as the run started", file=sys.stderr)
        return ExitCode.EXTERNAL_ABORT
    for sig in (signal.SIGINT, signal.SIGTERM) if on_main_thread() else ():
        signal.signal(sig, lambda *_: quit_at_once(results))
    fleet: Fleet = state["fleet"]
    if any(parts):
        results.streams.failures += append_parts(results.streams, parts) + [
            f"worker {w.link.index}: {err}" for w in fleet.workers
            if w.done and (err := w.done.get("part_error"))]
    results.sections["fleet"] = fleet.summary(why)
    results.sections["instances"] = fleet.cpu.apply(results.store, registry)
    results.more_warnings += fleet.warnings()
    if remote is not None:
        clocks = [link for link in state.get("links", []) if isinstance(link, SocketLink)]
        results.sections["fleet"]["clocks"] = [
            {"worker": c.index, "peer": c.peer, "offset_ms": c.offset_ns / 1e6,
             "uncertainty_ms": c.rtt_ns / 2e6} for c in clocks]
        results.more_warnings += [w for c in clocks if (w := c.clock_warning())]
    return results.finish(outcome)


async def _fleet_async(cfg: RunConfig, clock: RealClock, specs: list[Any], registry: Registry,
                       recorder: Recorder, results: Results, watchers: list[Any],
                       workers: int, config: dict[str, Any], state: dict[str, Any],
                       launcher: Any = None, remote: dict[str, Any] | None = None,
                       events: EventResults | None = None) -> Outcome:
    # signals first, before any await: a Ctrl-C that arrived as a KeyboardInterrupt inside
    # a destructor or a lock release was swallowed ("Exception ignored"), and the run went on
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    signals = 0
    engines: list[Engine] = []

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            print("\nloadgen: stopping the workers (interrupted); press Ctrl-C again to quit "
                  "at once", file=sys.stderr)
            interrupted.set()
            for engine in engines:
                engine.stop("interrupted by signal", ExitCode.EXTERNAL_ABORT)
            if events is not None:
                events.runner.stop("interrupted by signal")
        else:
            quit_at_once(results)

    sigs = (signal.SIGINT, signal.SIGTERM) if on_main_thread() else ()  # the API's threads
    for sig in sigs:
        loop.add_signal_handler(sig, on_signal)
    fleet: Fleet | None = None
    try:
        if remote is not None:
            links: list[Link] = await _join(remote, workers, interrupted)
            state["links"] = links
        else:
            links = list(await launcher.start(workers, clock.now_ns) if launcher else
                         await asyncio.gather(*(ProcessLink.spawn(i) for i in range(workers))))
        watch = next((w for w in watchers if isinstance(w, GeneratorWatch)), None)
        fleet = state["fleet"] = Fleet(links, registry, results, watch, clock)
        if events is not None:  # a recovery's fault window, from every worker's tracker
            events.tracker = fleet.deliveries.tracker
        fleet.on_started = lambda: _skew_line(cfg, fleet, workers)
        fleet.configure(config)
        ready = asyncio.ensure_future(fleet.ready())
        stop = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait((ready, stop), return_when=asyncio.FIRST_COMPLETED)
        if interrupted.is_set():  # Ctrl-C while the workers start: nothing ran
            ready.cancel()
            raise Interrupted("interrupted while the workers started; nothing ran")
        stop.cancel()
        ready.result()  # a worker's own error (its exit code), or who did not start
        run = RunContext(clock, registry, recorder, transport_factory(
            cfg.http_client, cfg.insecure, cfg.max_response_bytes),
            env={**os.environ, **cfg.overrides.env}, run_tags=cfg.run_tags,
            insecure=cfg.insecure, slowest=results.slowest, trace=cfg.trace)
        engine = Engine(run, specs, with_events(Hooks(
            ingest=results.ingest, tick=results.tick,
            progress=FleetProgress(fleet, enabled=not cfg.quiet, every=cfg.progress_interval,
                                   live=None if cfg.quiet else results.live_figures(),
                                   scenarios=[s.name for s in specs]), started=results.started,
            exec_started=results.exec_started, background=[w.run for w in watchers],
            load=_load_with_events(fleet, events, clock), vu_counts=fleet.vu_counts),
            events, begin_at_exec=False))
        engines.append(engine)
        outcome = await engine.execute()
        if events is not None:
            await events.runner.close()
        return outcome
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)
        if fleet is not None:
            await fleet.close()
        if launcher is not None:
            launcher.shutdown()


def _load_with_events(fleet: Fleet, events: EventResults | None, clock: RealClock) -> Any:
    """The fleet's load hook, with the events begun at the workers' T0 (the events run here,
    on the coordinator, once per run)."""
    if events is None:
        return fleet.load

    async def load(engine: Engine, setup_data: dict[str, Any]) -> None:
        task = asyncio.ensure_future(fleet.load(engine, setup_data))
        await asyncio.sleep(0)  # fleet.load sets its T0 before its first await
        events.runner.begin(fleet.t0_ns or clock.now_ns())
        await task

    return load


def remote_problems(value: str, remote: dict[str, Any]) -> list[str]:
    """What --listen needs: a fixed worker count, an address and a shared token."""
    problems = []
    if not value.isdigit() or int(value) < 1:
        problems.append(f"--listen needs --workers N (a whole number >= 1), not {value!r}: "
                        "the coordinator waits for exactly N workers to connect")
    try:
        parse_address(str(remote["listen"]), "--listen")
    except ConfigError as e:
        problems += e.problems
    if not remote.get("fleet_token"):
        problems.append("--listen needs a shared token (--fleet-token or "
                        f"{TOKEN_ENV}) so that a stray connection cannot join the run")
    if not (remote.get("join_timeout") or 0) > 0:
        problems.append("--join-timeout must be > 0 seconds")
    return problems


async def _join(remote: dict[str, Any], workers: int, interrupted: asyncio.Event,
                ) -> list[Link]:
    """Listen, and wait (to --join-timeout, or a Ctrl-C) for every worker to connect."""
    host, port = parse_address(str(remote["listen"]), "--listen")
    listener = Listener(host, port, workers, str(remote["fleet_token"]))
    await listener.open()
    log.info("waiting for %d worker(s) to connect to %s:%d", workers, host, port)
    joined = asyncio.ensure_future(listener.links(float(remote["join_timeout"])))
    stop = asyncio.ensure_future(interrupted.wait())
    await asyncio.wait((joined, stop), return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not joined.done():
        joined.cancel()
        listener.stop()
        for link in listener.joined.values():
            link.kill()
        raise Interrupted("interrupted while the workers joined; nothing ran")
    return list(joined.result())


def _skew_line(cfg: RunConfig, fleet: Fleet, workers: int) -> None:
    skew = fleet.skew_ms()
    if not cfg.quiet and skew is not None:
        print(f"     workers: all {workers} started, start skew {skew:.2f} ms (max-min)",
              file=sys.stderr)


def _jsonable(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}
