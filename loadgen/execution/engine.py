"""One run: setup -> executors (each at its start_time) -> stop -> teardown, with a ticker.

The ticker drains the hot-path records into the metrics every ~50 ms, samples `vus` and
`vus_max` every second, evaluates thresholds every 2 s (k6's cadence) and refreshes the
progress display. A stop request (Ctrl-C, abortOnFail, vu.abort()) interrupts running
iterations and still runs teardown, so results are never lost. A stop request that arrives
while setup() or teardown() runs cancels it: a setup() stalled on a request used to hold
Ctrl-C for the whole request timeout. An interrupted setup() skips the load and teardown()
(as a failed one does in k6); the run still ends with its summary.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from loadgen.errors import ExitCode, ScriptError
from loadgen.execution.heap import frozen_heap
from loadgen.execution.runtime import RunContext, ScenarioRuntime
from loadgen.executors import Executor
from loadgen.metrics.model import tagset
from loadgen.scripting.context import current_vu

INGEST_NS = 50_000_000
VUS_NS = 1_000_000_000
THRESHOLD_NS = 2_000_000_000
# how long a cancelled setup()/teardown() may take to unwind before it is abandoned
HOOK_CANCEL_GRACE_S = 2.0

log = logging.getLogger("loadgen")


@dataclass
class ScenarioSpec:
    """A scenario ready to run: its class, resolved executor and options."""

    name: str
    cls: type
    executor: Executor
    tags: dict[str, str] = field(default_factory=dict)
    base_url: str | None = None
    expected: Any = ((200, 399),)
    plan: Any = None  # a test type's frozen plan from shape(), handed back to its verdict
    #: the scenario this one starts after (ordering.py); None: at its start_time
    start_after: str | None = None
    #: ordering's offset from the executors' T0: planned (worst case), then the real one
    offset_ns: int = 0


class _Stopped(Exception):
    """Raised inside the executors' task group to cancel them all on a stop request."""


@dataclass(frozen=True)
class StopRequest:
    """Asked of the engine by whoever judges the run (abortOnFail, a test type that found
    its answer): stop now with this reason and exit code."""

    reason: str
    exit_code: int


@dataclass
class Hooks:
    """What the engine calls back; all optional, all synchronous and quick."""

    ingest: Callable[[list[tuple[object, ...]]], None] | None = None
    # every 2 s with the elapsed seconds: a stop request, or None to go on
    tick: Callable[[float], StopRequest | None] | None = None
    progress: Callable[[Engine, bool], None] | None = None  # (engine, final)
    started: Callable[[int], None] | None = None  # the test run's start (before setup), ns
    exec_started: Callable[[int], None] | None = None  # the executors' T0 (after setup), ns
    load_ended: Callable[[], None] | None = None  # the load is over (before grace/teardown)
    # samplers that run for the whole test (generator/target watchers); cancelled at the end
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # a fleet coordinator: the load runs elsewhere (worker processes); this coroutine gets
    # the engine and the setup data and returns when the load has ended
    load: Callable[[Engine, dict[str, Any]], Coroutine[Any, Any, None]] | None = None
    # (active, allocated) VUs when they are not this process's own (a fleet's sums)
    vu_counts: Callable[[], tuple[int, int]] | None = None


@dataclass
class Outcome:
    exit_code: int
    duration_ns: int  # test-run duration: from before setup to after teardown (k6's)
    reason: str = ""
    setup_data: dict[str, Any] = field(default_factory=dict)


class Engine:
    def __init__(self, run: RunContext, specs: list[ScenarioSpec], hooks: Hooks | None = None,
                 *, setup_data: dict[str, Any] | None = None, sample_vus: bool = True):
        """`setup_data`: a fleet worker's, from the coordinator that ran setup() once; this
        engine then runs neither setup() nor teardown(). `sample_vus`: False in a worker,
        whose coordinator samples the fleet's VU sums."""
        self.run = run
        self.given_setup = setup_data
        self.sample_vus = sample_vus
        self.specs = specs
        self.hooks = hooks or Hooks()
        self.clock = run.clock
        self.runtimes: list[ScenarioRuntime] = []
        self.start_ns = 0
        self.exec_start_ns = 0
        self._stop = asyncio.Event()
        self._hook_cancel: asyncio.Event | None = None  # set: cancel the running hook
        self.stopped_ns: int | None = None  # when a stop was requested (None: never)
        self._exit = ExitCode.OK
        self._reason = ""
        run.on_abort = lambda reason: self.stop(reason, ExitCode.SCRIPT_ABORTED)

    # -- control ------------------------------------------------------------------------
    def stop(self, reason: str, exit_code: int) -> None:
        """Stop the test now (interrupting iterations and a running setup()/teardown());
        the first reason wins."""
        if self._hook_cancel is not None:
            self._hook_cancel.set()
        if not self._stop.is_set():
            self._reason = reason
            self._exit = exit_code
            self.stopped_ns = self.clock.now_ns()
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def stop_code(self) -> int | None:
        """The exit code a stop request asked for (105 signal, 108 abort, 99 abortOnFail)."""
        return self._exit if self._stop.is_set() else None

    @property
    def stop_reason(self) -> str:
        return self._reason

    def elapsed_s(self) -> float:
        return (self.clock.now_ns() - self.start_ns) / 1e9

    # -- the run ------------------------------------------------------------------------
    async def execute(self) -> Outcome:
        clock = self.clock
        self.start_ns = clock.now_ns()
        if self.hooks.started:
            self.hooks.started(self.start_ns)
        ticker = asyncio.ensure_future(self._ticker())
        background = [asyncio.ensure_future(f()) for f in self.hooks.background]
        setup_data: dict[str, Any] = {}
        try:
            if self.given_setup is not None:
                setup_data = dict(self.given_setup)
                await self._load_and_teardown(setup_data, teardown=False)
            else:
                for spec in self.specs:
                    done, setup_data[spec.name] = await self._guarded(spec, "setup")
                    if not done:  # interrupted: no load, no teardown
                        break
                else:
                    await self._load_and_teardown(setup_data)
        finally:
            for task in (ticker, *background):
                task.cancel()
            await asyncio.gather(ticker, *background, return_exceptions=True)
            self._flush()
            if self.hooks.progress:
                self.hooks.progress(self, True)
            await self.run.close()
        return Outcome(self._exit, clock.now_ns() - self.start_ns, self._reason, setup_data)

    async def _load_and_teardown(self, setup_data: dict[str, Any], teardown: bool = True,
                                 ) -> None:
        """After a complete setup(): the executors, the delivery grace, then teardown()."""
        clock = self.clock
        self.exec_start_ns = clock.now_ns()
        if self.hooks.exec_started:
            self.hooks.exec_started(self.exec_start_ns)
        if self.hooks.load is not None:  # a fleet coordinator: the workers run the load
            try:
                await self.hooks.load(self, setup_data)
            finally:
                self._load_ended()
            for spec in self.specs:
                done, _ = await self._guarded(spec, "teardown", setup_data.get(spec.name))
                if not done:
                    break
            return
        for spec in self.specs:
            self.runtimes.append(ScenarioRuntime(
                self.run, spec.name, spec.cls, spec.executor, base_url=spec.base_url,
                tags=spec.tags, expected=spec.expected, setup_data=setup_data[spec.name]))
        try:
            await self._run_executors()
        finally:
            self._load_ended()
        if self.run.tracker is not None:
            # messages still in flight get their grace period before they count as lost
            await self.run.tracker.settle()
        if not teardown:
            return
        for spec in self.specs:
            done, _ = await self._guarded(spec, "teardown", setup_data[spec.name])
            if not done:
                break

    def _load_ended(self) -> None:
        if self.hooks.load_ended is not None:
            self.hooks.load_ended()

    async def _run_executors(self) -> None:
        """Every scenario's executor in one task group: a stop request cancels them all;
        an executor that fails cancels the others and its error propagates."""
        left = len(self.runtimes)
        if not left:
            return

        async def stop_all() -> None:
            await self._stop.wait()
            raise _Stopped

        ended = {rt.name: asyncio.Event() for rt in self.runtimes}
        specs = {s.name: s for s in self.specs}

        async def one(rt: ScenarioRuntime) -> None:
            nonlocal left
            assert rt.executor is not None
            spec = specs.get(rt.name)
            try:
                if spec is not None and spec.start_after in ended:
                    await ended[spec.start_after].wait()  # ended, graceful stop included
                    spec.offset_ns = self.clock.now_ns() - self.exec_start_ns
                offset = spec.offset_ns if spec is not None else 0
                start = self.exec_start_ns + offset + rt.executor.start_time_ns
                rt.end_ns = start + rt.executor.duration_ns()
                await self.clock.sleep_until(start)
                try:
                    await rt.executor.run(rt, start)
                finally:
                    rt.done = True
                    rt.ended_ns = self.clock.now_ns()
            finally:
                ended[rt.name].set()
                left -= 1
                if left == 0:
                    stopper.cancel()

        try:
            with frozen_heap():
                async with asyncio.TaskGroup() as tg:
                    stopper = tg.create_task(stop_all())
                    for rt in self.runtimes:
                        tg.create_task(one(rt))
        except* _Stopped:
            pass
        except* Exception as eg:
            raise eg.exceptions[0] from None

    async def _guarded(self, spec: ScenarioSpec, which: str, data: Any = None,
                       ) -> tuple[bool, Any]:
        """Run setup() or teardown() until it ends or a stop request cancels it: (True, its
        value) or (False, None). One that ignores the cancellation is abandoned after
        HOOK_CANCEL_GRACE_S, so a stop is never held by user code."""
        if which == "setup" and self._stop.is_set():
            return False, None
        cancel = self._hook_cancel = asyncio.Event()
        task = asyncio.ensure_future(self._hook(spec, which, data))
        waiter = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._hook_cancel = None
            waiter.cancel()
        if task.done():
            return True, task.result()  # a ScriptError from the hook propagates
        task.cancel()
        done, _ = await asyncio.wait((task,), timeout=HOOK_CANCEL_GRACE_S)
        if done and not task.cancelled() and task.exception() is None:
            return True, task.result()  # it ended on its own as it was being cancelled
        log.warning("scenario %s: %s() interrupted (%s)%s", spec.name, which,
                    self._reason or "stopped",
                    "" if done else f"; it ignored the cancellation for "
                    f"{HOOK_CANCEL_GRACE_S:g} s and was abandoned")
        return False, None

    async def _hook(self, spec: ScenarioSpec, which: str, data: Any = None) -> Any:
        """Run setup() or teardown() once, in group ::setup/::teardown without a scenario tag
        (k6's tagging); an exception there is a script error (exit 107)."""
        has = spec.cls.has_setup() if which == "setup" else spec.cls.has_teardown()  # type: ignore[attr-defined]
        if not has:
            return None
        rt = ScenarioRuntime(self.run, spec.name, spec.cls, None, base_url=spec.base_url,
                             tags={}, expected=spec.expected, scenario_tag=False,
                             group=f"::{which}")
        vu = rt.new_vu()
        current_vu.set(vu)
        try:
            if which == "setup":
                return await vu.instance.setup()
            await vu.instance.teardown(data)
            return None
        except Exception as e:
            tb = "".join(traceback.format_exception(e))
            raise ScriptError(f"scenario {spec.name}: {which}() raised {type(e).__name__}: {e}\n"
                              f"{tb}") from e
        finally:
            rt._emit_data(vu, self.clock.now_ns())

    # -- the ticker ---------------------------------------------------------------------
    async def _ticker(self) -> None:
        clock = self.clock
        reg = self.run.registry
        vus_m, vus_max_m = reg["vus"], reg["vus_max"]
        run_tags = tagset(self.run.run_tags)
        t0 = clock.now_ns()
        next_vus, next_thr, next_prog = t0 + VUS_NS, t0 + THRESHOLD_NS, t0 + VUS_NS
        tick = t0
        while True:
            tick += INGEST_NS
            # a plain sleep, not sleep_until: ingest needs no sub-millisecond wake-up, and
            # sleep_until's final spin yields once per loop pass for the last 0.1 ms, which
            # on a saturated loop was ~3% of the CPU (a profile at 100,000 iterations/s)
            now = clock.now_ns()
            if tick > now:
                await clock.sleep((tick - now) / 1e9)
            now = clock.now_ns()
            if now >= next_vus and self.sample_vus:
                next_vus += VUS_NS
                active, allocated = self.vu_counts()
                self.run.recorder.sample(vus_m, float(active), run_tags, now)
                self.run.recorder.sample(vus_max_m, float(allocated), run_tags, now)
            self._flush()
            if now >= next_thr:
                next_thr += THRESHOLD_NS
                req = self.hooks.tick(self.elapsed_s()) if self.hooks.tick else None
                if req is not None:
                    self.stop(req.reason, req.exit_code)
            if now >= next_prog:
                next_prog += VUS_NS
                if self.hooks.progress:
                    self.hooks.progress(self, False)

    def vu_counts(self) -> tuple[int, int]:
        """(active, allocated) VUs: this process's, or the fleet's through the hook."""
        if self.hooks.vu_counts is not None:
            return self.hooks.vu_counts()
        return (sum(rt.active for rt in self.runtimes),
                sum(rt.allocated for rt in self.runtimes))

    def drain(self) -> None:
        """Hand the records so far to the ingest hook now (a fleet worker's cut)."""
        self._flush()

    def _flush(self) -> None:
        records = self.run.recorder.drain()
        if records and self.hooks.ingest:
            self.hooks.ingest(records)
