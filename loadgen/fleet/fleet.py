"""The coordinator's view of its workers: the ready barrier, one T0, the merged intervals,
stop orders and the watch for workers that die or fall silent.

Every worker's interval goes into the one `Results` pipeline as it arrives (`apply`), so
thresholds are judged fleet-wide on every tick and `abortOnFail` stops the whole fleet. A
worker that exits without saying `done`, sends garbage, or sends nothing for SILENT_S is
*lost*: it is killed, named (log, summary warnings, `loadgen.fleet.lost`), its results so
far are kept, and the run stops with FLEET_LOST. Links are anything with ProcessLink's
methods (local processes today).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from loadgen.clock import RealClock
from loadgen.commands.merge import _health as absorb_health
from loadgen.errors import ExitCode, LoadgenError, ScriptError
from loadgen.execution.engine import Engine
from loadgen.fleet.deliveries import FleetDeliveries
from loadgen.fleet.wire import WireError, encode
from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.registry import Registry
from loadgen.results.instances import InstanceCpu, tag_instance
from loadgen.results.interval import Interval, IntervalError
from loadgen.results.pipeline import Results
from loadgen.watch.generator import GeneratorWatch

log = logging.getLogger("loadgen")
READY_DEADLINE_S = 60.0  # importing loadgen and the scenario file, planning
SILENT_S = 5.0  # a running worker reports every second
STOP_DEADLINE_S = 5.0  # after a stop order: iterations are interrupted at once
T0_MARGIN_NS = 100_000_000  # from sending "go" to the common start
#: k6 has no code for a lost instance; its 110 ("test failed": the run ends, results are
#: written, the gate fails) is what loadgen already uses when results cannot be trusted
FLEET_LOST = ExitCode.TEST_FAILED


class Link(Protocol):
    index: int

    @property
    def name(self) -> str: ...
    def send(self, frame: bytes) -> bool: ...
    async def receive(self) -> dict[str, Any] | None: ...
    def kill(self) -> None: ...
    async def wait(self, within_s: float) -> int | None: ...
    def describe_exit(self) -> str: ...
    def close(self) -> None: ...


class FleetError(LoadgenError):
    """The fleet could not start (a worker's own error keeps its exit code)."""

    def __init__(self, message: str, exit_code: int = FLEET_LOST) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class WorkerState:
    link: Link
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: tuple[int, str] | None = None
    started_ns: int | None = None
    last_seen_ns: int = 0
    done: dict[str, Any] | None = None
    lost: str | None = None
    status: dict[str, int] = field(default_factory=dict)
    ended_ns: int | None = None  # when its `done` arrived
    reader: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.done is None and self.lost is None


class Fleet:
    def __init__(self, links: list[Link], registry: Registry, results: Results,
                 watch: GeneratorWatch | None, clock: RealClock) -> None:
        self.workers = [WorkerState(link) for link in links]
        self.registry = registry
        self.results = results
        self.watch = watch
        self.clock = clock
        self.engine: Engine | None = None
        self.t0_ns = 0
        self.changed = asyncio.Event()
        self.on_started: Any = None  # called once every worker has started (the skew line)
        self.closing = False
        self.stop_sent_ns: int | None = None  # when the stop order went out (None: never)
        self.cpu = InstanceCpu()  # each worker's loadgen_cpu: the summary shows the busiest
        self.deliveries = FleetDeliveries()  # the workers' vu.track by send second

    # -- start ------------------------------------------------------------------------------
    def configure(self, config: dict[str, Any]) -> None:
        n = len(self.workers)
        for w in self.workers:
            w.link.send(encode({"t": "config", "index": w.link.index, "workers": n, **config}))
            w.reader = asyncio.ensure_future(self._read(w))

    async def ready(self, deadline_s: float = READY_DEADLINE_S) -> None:
        """Every worker planned its segment; else FleetError naming who did not."""
        waits = [asyncio.ensure_future(w.ready.wait()) for w in self.workers]
        _, pending = await asyncio.wait(waits, timeout=deadline_s)
        for t in pending:
            t.cancel()
        for w in self.workers:
            if w.error is not None:
                raise FleetError(w.error[1], w.error[0])
        bad = [f"{w.link.name}: {w.lost}" for w in self.workers if w.lost]
        bad += [f"{w.link.name}: not ready within {deadline_s:g} s" for w in self.workers
                if not w.ready.is_set()]
        if bad:
            raise FleetError("the workers could not start: " + "; ".join(bad))

    # -- the load (the coordinator engine's load hook) ---------------------------------------
    async def load(self, engine: Engine, setup_data: dict[str, Any]) -> None:
        self.engine = engine
        self.t0_ns = self.clock.now_ns() + T0_MARGIN_NS
        try:
            frame = encode({"t": "go", "origin_ns": engine.start_ns, "t0_ns": self.t0_ns,
                            "setup": setup_data})
        except WireError as e:
            raise ScriptError(f"setup() returned data that cannot be sent to the workers "
                              f"(it must be JSON: objects with string keys, lists, strings, "
                              f"numbers, booleans, None): {e}") from None
        now = self.clock.now_ns()
        for w in self.workers:
            w.last_seen_ns = max(now, self.t0_ns)
            if not w.link.send(frame):
                self.lose(w, "could not be sent its start")
        stop_deadline: int | None = None
        while any(w.running for w in self.workers):
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.1)
            now = self.clock.now_ns()
            for w in self.workers:
                if w.running and now - w.last_seen_ns > SILENT_S * 1e9:
                    self.lose(w, f"sent nothing for {SILENT_S:g} s")
            if engine.stopping and stop_deadline is None:
                self.stop_sent_ns = now
                stop_deadline = now + int(STOP_DEADLINE_S * 1e9)
                self.broadcast({"t": "stop", "reason": engine.stop_reason,
                                "exit_code": engine.stop_code})
            if stop_deadline is not None and now > stop_deadline:
                for w in self.workers:
                    if w.running:
                        self.lose(w, f"did not stop within {STOP_DEADLINE_S:g} s")

    def broadcast(self, msg: dict[str, Any]) -> None:
        frame = encode(msg)
        for w in self.workers:
            if w.running:
                w.link.send(frame)

    def lose(self, w: WorkerState, why: str) -> None:
        """A worker is gone: kill it, name it, stop the run (its results so far stay)."""
        if not w.running or self.closing:  # closing: the coordinator ends them itself
            return
        w.lost = why
        w.link.kill()
        w.ready.set()
        log.error("%s lost: %s; the run stops, results so far are kept", w.link.name, why)
        if self.engine is not None:
            self.engine.stop(f"{w.link.name} lost: {why}", FLEET_LOST)
        self.changed.set()

    def vu_counts(self) -> tuple[int, int]:
        return (sum(w.status.get("active", 0) for w in self.workers),
                sum(w.status.get("allocated", 0) for w in self.workers))

    def iterations(self) -> tuple[int, int]:
        return (sum(w.status.get("complete", 0) for w in self.workers),
                sum(w.status.get("interrupted", 0) for w in self.workers))

    # -- messages ---------------------------------------------------------------------------
    async def _read(self, w: WorkerState) -> None:
        try:
            while True:
                msg = await w.link.receive()
                if msg is None:
                    break
                w.last_seen_ns = self.clock.now_ns()
                self._handle(w, msg)
        except (WireError, IntervalError, KeyError, TypeError, ValueError) as e:  # JSON too
            self.lose(w, f"sent a bad message ({e})")
            return
        if w.running:
            await w.link.wait(1.0)
            if w.error is None:
                self.lose(w, w.link.describe_exit())
            else:
                w.ready.set()

    def _handle(self, w: WorkerState, msg: dict[str, Any]) -> None:
        kind = msg["t"]
        if kind == "interval":
            self._define(msg.get("types") or {})
            raw = msg["iv"]  # an object (infinities as "inf" strings); text from older workers
            iv = Interval.from_json(json.loads(raw) if isinstance(raw, str) else raw,
                                    self.types())
            tag_instance(iv, str(w.link.index))  # whose CPU it is, in the archive too
            self.cpu.take(iv, "")
            self.results.absorb(iv)
            if self.watch is not None:
                absorb_health(self.watch, iv.health)
            w.status = {k: int(v) for k, v in dict(msg.get("status") or {}).items()}
        elif kind == "ready":
            w.ready.set()
        elif kind == "error":
            w.error = (int(msg["exit_code"]), str(msg["message"]))
            w.ready.set()
        elif kind == "started":
            w.started_ns = int(msg["at_ns"])
            if all(x.started_ns is not None for x in self.workers) and self.on_started:
                self.on_started()
        elif kind == "stopping" and self.engine is not None:
            self.engine.stop(str(msg["reason"]), int(msg["exit_code"]))
        elif kind == "done":
            w.done = msg
            self.deliveries.add(msg.get("deliveries"))
            if self.results.slowest is not None and isinstance(msg.get("slowest"), list):
                self.results.slowest.absorb(msg["slowest"])
            w.ended_ns = self.clock.now_ns()
            code = int(msg["exit_code"])
            if code not in (ExitCode.OK, ExitCode.EXTERNAL_ABORT) and self.engine is not None:
                self.engine.stop(f"{w.link.name}: {msg.get('reason', '')}", code)
        self.changed.set()

    def types(self) -> dict[str, tuple[MetricType, Contains]]:
        return {n: (m.type, m.contains) for n, m in self.registry.metrics.items()}

    def _define(self, types: dict[str, Any]) -> None:
        """Metrics a worker made at run time (its registry grows as scenarios use things)."""
        for name, (mtype, contains) in types.items():
            if name not in self.registry.metrics:
                self.registry.define(name, MetricType(mtype), Contains(contains))

    # -- the end ----------------------------------------------------------------------------
    async def close(self) -> None:
        """Every worker ends: asked (stdin closed), then killed after a deadline."""
        self.closing = True
        for w in self.workers:
            w.link.close()
        for w in self.workers:
            if await w.link.wait(2.0) is None:
                w.link.kill()
                await w.link.wait(2.0)
            if w.reader is not None:
                w.reader.cancel()

    def skew_ms(self) -> float | None:
        starts = [w.started_ns for w in self.workers if w.started_ns is not None]
        if len(starts) < 2:
            return 0.0 if starts else None
        return (max(starts) - min(starts)) / 1e6

    def summary(self, why: str) -> dict[str, Any]:
        starts = [w.started_ns for w in self.workers if w.started_ns is not None]
        ends = [w.ended_ns for w in self.workers if w.ended_ns is not None]
        sent = self.stop_sent_ns
        return {"workers": len(self.workers), "chosen": why,
                # from the stop order to the last worker's end (None: no stop order)
                "stop_to_end_ms": (max(ends) - sent) / 1e6 if sent is not None and ends
                and len(ends) == len(self.workers) else None,
                "start_skew_ms": self.skew_ms(),
                "latest_start_after_t0_ms": (max(starts) - self.t0_ns) / 1e6 if starts
                else None,
                "lost": [{"worker": w.link.index, "name": w.link.name, "why": w.lost}
                         for w in self.workers if w.lost]}

    def warnings(self) -> list[str]:
        return [f"{w.link.name} was lost ({w.lost}): the results include what it sent "
                "before; the run was stopped" for w in self.workers if w.lost]
