"""A fleet worker: `python -m loadgen.fleet.worker`, started by the coordinator.

It reads its orders on stdin and answers on the stdout it was started with (stdout itself
is then pointed at stderr, so a scenario's print() can never corrupt a frame):

    in:  config {index, workers, kw, endpoint} -> it plans its segment i/N, answers ready
         go {origin_ns, t0_ns, setup}           -> waits for T0, runs the load (no setup or
                                                  teardown: the coordinator runs them once)
         stop {reason, exit_code}               -> stops at once, as Ctrl-C stops a run
    out: ready | error {exit_code, message}, started {at_ns}, interval {iv, status} every
         second, stopping {reason, exit_code} (vu.abort()), done {exit_code, reason}

Times are the run clock's nanoseconds (CLOCK_MONOTONIC on Linux, shared by every process on
the machine). SIGINT is ignored: a terminal's Ctrl-C reaches the whole process group, and
only the coordinator decides how the fleet stops. A closed stdin (the coordinator is gone)
stops the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from loadgen.clock import RealClock
from loadgen.commands.http import endpoint_scenario
from loadgen.commands.run import RunConfig, _run_loop, transport_factory
from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.execution.engine import Engine, Hooks
from loadgen.execution.plan import build_plan
from loadgen.execution.runtime import RunContext
from loadgen.execution.segments import nest
from loadgen.execution.segments import resolve as resolve_segment
from loadgen.fleet.deliveries import delivery_bins
from loadgen.fleet.interval_wire import interval_frame
from loadgen.fleet.pipe_out import DRAIN_S, PipeOut
from loadgen.fleet.raw_points import PartWriter
from loadgen.fleet.sizing import even_sequence, segment
from loadgen.fleet.socket_link import TOKEN_ENV, connect, materialize, parse_address
from loadgen.fleet.wire import WireError, encode, read_frame
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.slowest import MAX_SLOWEST, SlowestRequests
from loadgen.net.limiter import RateLimiter
from loadgen.results.interval import IntervalRecorder
from loadgen.results.pipeline import generator_health
from loadgen.scripting.scenario import load_file
from loadgen.watch.generator import GeneratorWatch

log = logging.getLogger("loadgen")
INTERVAL_NS = 1_000_000_000
#: cuts follow the end of each second of the run by this much, so a second's samples reach
#: the coordinator well before its live per-second stream writes that second (1 s later)
CUT_AFTER_NS = 100_000_000


def next_cut(origin_ns: int, now_ns: int) -> int:
    """The first cut time after `now_ns`: CUT_AFTER_NS past a whole second of the run."""
    k = (now_ns - origin_ns - CUT_AFTER_NS) // INTERVAL_NS + 1
    return origin_ns + k * INTERVAL_NS + CUT_AFTER_NS


def worker_config(msg: dict[str, Any]) -> RunConfig:
    """The coordinator's command line, narrowed to segment i/N of an even sequence of the
    coordinator's own segment (the whole test unless it was given one: a fleet that is one
    instance of a split test deals out its share, see NestedTuple)."""
    i, n = int(msg["index"]), int(msg["workers"])
    kw = dict(msg["kw"])
    kw.update(quiet=True, summary_export=None, summary_json=None, outputs=(), archive=None,
              report=None, threshold_files=(), no_summary=True, junit=None)
    if kw.get("rps_limit"):
        kw["rps_limit"] = float(kw["rps_limit"]) / n
    cfg = RunConfig.from_cli(kw)
    cfg.overrides.segment = nest(cfg.overrides.segment,
                                 resolve_segment(segment(i, n), even_sequence(n)))
    ep = msg.get("endpoint")
    if ep:
        body = base64.b64decode(ep["body"]) if ep.get("body") is not None else None
        cfg.classes = [endpoint_scenario(ep["method"], ep["url"], headers=ep["headers"],
                                         body=body, expect=ep.get("expect"))]
    return cfg


class Worker:
    def __init__(self, out: Callable[[bytes], None], reader: asyncio.StreamReader,
                 shift_ns: int = 0) -> None:
        self.out = out
        self.reader = reader
        self.engine: Engine | None = None
        self.index = -1
        self.shift_ns = shift_ns  # coordinator run clock -> ours (0 on one machine)
        self.done = False  # it reported its end: the coordinator has its exit code

    def send(self, msg: dict[str, Any]) -> None:
        try:
            self.out(encode(msg))
        except OSError:  # the coordinator is gone: stop, nobody reads the results
            if self.engine is not None:
                self.engine.stop("coordinator gone", ExitCode.EXTERNAL_ABORT)

    async def main(self) -> int:
        cfg_msg = await read_frame(self.reader)
        if cfg_msg is None or cfg_msg["t"] != "config":
            return ExitCode.INVALID_CONFIG
        self.index = int(cfg_msg["index"])
        for handler in logging.getLogger().handlers:  # which worker said it
            handler.setFormatter(logging.Formatter(
                f"level=%(levelname)s msg=worker {self.index}: %(message)s"))
        try:
            cfg = worker_config(materialize(cfg_msg))
            classes, custom = (cfg.classes, []) if cfg.classes else load_file(cfg.file)
            registry = Registry()
            for cm in custom:
                registry.define(cm.name, cm.type, cm.contains)
            specs = build_plan(classes, cfg.overrides, [])
        except LoadgenError as e:
            self.send({"t": "error", "exit_code": e.exit_code, "message": str(e)})
            return e.exit_code
        clock = RealClock()
        recorder = Recorder()
        watch = GeneratorWatch(registry, recorder, tagset(cfg.run_tags))
        intervals = IntervalRecorder(registry)
        parts = list(cfg_msg.get("raw_parts") or ())
        part = PartWriter(parts[self.index], registry, self.index) if parts else None
        run = RunContext(clock, registry, recorder, transport_factory(
            cfg.http_client, cfg.insecure, cfg.max_response_bytes),
            env={**os.environ, **cfg.overrides.env}, run_tags=cfg.run_tags,
            insecure=cfg.insecure, segment=cfg.overrides.segment,
            limiter=RateLimiter(cfg.rps_limit, clock) if cfg.rps_limit else None,
            trace=cfg.trace, slowest=SlowestRequests(cfg.results.slowest)
            if 0 < cfg.results.slowest <= MAX_SLOWEST else None)
        self.send({"t": "ready", "pid": os.getpid()})
        go = await read_frame(self.reader)
        if go is None or go["t"] != "go":
            await run.close()
            return ExitCode.EXTERNAL_ABORT
        origin = int(go["origin_ns"]) + self.shift_ns
        intervals.start(origin)
        ingest: Callable[[Sequence[tuple[object, ...]]], None] = intervals.ingest
        if part is not None:
            part.start(clock.now_ns())
            ingest = part.tee(intervals.ingest)
        engine = self.engine = Engine(
            run, specs, Hooks(ingest=ingest, background=[watch.run],
                              started=lambda at: self.send({"t": "started",
                                                             "at_ns": at - self.shift_ns})),
            setup_data=dict(go.get("setup") or {}), sample_vus=False)

        def on_abort(reason: str) -> None:
            engine.stop(reason, ExitCode.SCRIPT_ABORTED)
            self.send({"t": "stopping", "reason": reason,
                       "exit_code": ExitCode.SCRIPT_ABORTED})

        run.on_abort = on_abort

        sent_types = 0

        def cut() -> None:
            nonlocal sent_types
            iv = intervals.cut((clock.now_ns() - origin) / 1e9, generator_health([watch]))
            rts = engine.runtimes
            types = {}
            if len(registry.metrics) != sent_types:  # metrics made at run time, once
                sent_types = len(registry.metrics)
                types = {n: [m.type.value, m.contains.value]
                         for n, m in registry.metrics.items()}
            status = {"active": sum(rt.active for rt in rts),
                      "allocated": sum(rt.allocated for rt in rts),
                      "complete": sum(rt.completed for rt in rts),
                      "interrupted": sum(rt.interrupted for rt in rts)}
            try:
                self.out(interval_frame(iv, types, status))
            except OSError:  # the coordinator is gone
                engine.stop("coordinator gone", ExitCode.EXTERNAL_ABORT)

        async def reporter() -> None:
            next_ns = next_cut(origin, clock.now_ns())
            while True:
                await clock.sleep_until(next_ns)
                next_ns += INTERVAL_NS
                engine.drain()  # what the ticker has not drained yet belongs in this cut
                cut()

        engine.hooks.background.append(reporter)
        await clock.sleep_until(int(go["t0_ns"]) + self.shift_ns)
        listener = asyncio.ensure_future(self.listen())
        try:
            outcome = await engine.execute()
            code, reason = outcome.exit_code, outcome.reason
        except LoadgenError as e:  # an executor's script error: reported, not a lost worker
            code, reason = e.exit_code, str(e)
        finally:
            listener.cancel()
        cut()  # the last records (execute() flushed them into the recorder)
        if part is not None:
            part.close()
        # its N slowest requests go with its end: the coordinator keeps the N slowest of all
        slowest = run.slowest.rows() if run.slowest is not None else []
        self.send({"t": "done", "exit_code": code, "reason": reason, "slowest": slowest,
                   "part_error": part.failure if part is not None else None,
                   "deliveries": delivery_bins(run.existing_tracker(), self.shift_ns)})
        self.done = True
        return code

    async def listen(self) -> None:
        """Stop orders from the coordinator; end of stdin means it is gone."""
        assert self.engine is not None
        while True:
            try:
                msg = await read_frame(self.reader)
            except WireError as e:
                msg = {"t": "stop", "reason": f"bad order: {e}",
                       "exit_code": ExitCode.EXTERNAL_ABORT}
            except OSError:  # a TCP coordinator that reset the connection (it lost us)
                msg = None
            if msg is None:
                self.engine.stop("coordinator gone", ExitCode.EXTERNAL_ABORT)
                return
            if msg["t"] == "stop":
                self.engine.stop(str(msg.get("reason", "stopped")),
                                 int(msg.get("exit_code", ExitCode.EXTERNAL_ABORT)))


async def _main(out_fd: int) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**16)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = await PipeOut.open(out_fd)
    try:
        return await Worker(out.write, reader).main()
    finally:
        await out.drain(DRAIN_S)


async def _main_tcp(address: str, index: int, token: str, within_s: float,
                    exit_0_when_done: bool = False) -> int:
    """A worker on another machine or pod: the same conversation over one TCP connection.
    `exit_0_when_done`: once its end is reported, the coordinator's exit code is the run's
    verdict; a worker pod exiting 99 would fail the Kubernetes Job (and terminate the
    coordinator's pod) before the coordinator has written the results."""
    host, port = parse_address(address, "--connect")
    reader, writer, sync = await connect(host, port, index, token, within_s)
    log.info("joined %s:%d (clock offset %+.1f ms ±%.1f ms)", host, port,
             sync.offset_ns / 1e6, sync.rtt_ns / 2e6)

    def out(frame: bytes) -> None:
        if writer.is_closing():
            raise ConnectionResetError("the coordinator closed the connection")
        writer.write(frame)

    worker = Worker(out, reader, sync.shift_ns)
    try:
        code = await worker.main()
        return ExitCode.OK if exit_0_when_done and worker.done else code
    finally:
        with contextlib.suppress(OSError, TimeoutError):  # its last frames, then the end
            await asyncio.wait_for(writer.drain(), 5.0)
        writer.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="loadgen worker", description=(
        "A fleet worker. Without --connect it talks on stdin/stdout (started by a local "
        "coordinator); with it, it joins a coordinator started with --listen."))
    p.add_argument("--connect", metavar="HOST:PORT")
    p.add_argument("--index", type=int, default=0, help="this worker's index, 0..N-1")
    p.add_argument("--token", default=None,
                   help=f"the fleet's shared token (default: ${TOKEN_ENV})")
    p.add_argument("--connect-timeout", type=float, default=300.0, metavar="SECONDS")
    p.add_argument("--exit-0-when-done", action="store_true",
                   help="exit 0 once the coordinator has this worker's results (its own "
                        "exit code is the run's verdict); for Kubernetes Job pods")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # print() in a scenario goes to stderr, never into a frame
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="level=%(levelname)s msg=worker: %(message)s")
    try:
        if args.connect:
            token = args.token if args.token is not None else os.environ.get(TOKEN_ENV, "")
            code = _run_loop(_main_tcp(args.connect, args.index, token,
                                       args.connect_timeout, args.exit_0_when_done))
        else:
            code = _run_loop(_main(out_fd))
    except (ConfigError, WireError) as e:
        print(f"loadgen worker: {e}", file=sys.stderr)
        code = ExitCode.INVALID_CONFIG
    except LoadgenError as e:
        print(f"loadgen worker: {e}", file=sys.stderr)
        code = e.exit_code
    except Exception as e:  # noqa: BLE001 - the coordinator names the worker; one line here
        print(f"loadgen worker: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    os._exit(int(code))


if __name__ == "__main__":
    main()
