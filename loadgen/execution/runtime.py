"""The state one run shares (RunContext) and each scenario's execution context
(ScenarioRuntime, what executors drive): VUs, the iteration runner and its accounting.

The iteration runner is where k6's accounting rules live (k6-compat.md §4.2): an iteration
that raises still counts (the error is logged); an interrupted one is neither an iteration
nor dropped; arrival-rate iterations also record their schedule lag and their latency from
the intended start (the open model without coordinated omission), and an arrival that was
dropped or interrupted records that latency as unserved (+inf, see metrics/histogram.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadgen.clock import Clock
from loadgen.errors import TestAborted
from loadgen.execution import fast_iteration
from loadgen.execution.segments import FULL_TUPLE, ExecutionTuple, LocalCounter
from loadgen.executors import Executor
from loadgen.messaging.track import DeliveryTracker
from loadgen.metrics.model import ITER, SAMPLE, Metric, TagSet, tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.slowest import SlowestRequests
from loadgen.net.client import HttpClient
from loadgen.net.limiter import RateLimiter
from loadgen.net.meter import Meter, TagSource
from loadgen.net.redact import redact
from loadgen.net.trace import TraceIds
from loadgen.net.types import Transport
from loadgen.scripting.context import current_vu
from loadgen.scripting.scope import MetricDecl
from loadgen.scripting.vu import VU

if TYPE_CHECKING:  # loaded on first vu.ws use: the websockets library costs ~4 MiB
    from loadgen.net.ws import WSClient

log = logging.getLogger("loadgen")


@dataclass
class RunContext:
    """Everything shared by all scenarios of one run."""

    clock: Clock
    registry: Registry
    recorder: Recorder
    transport_factory: Callable[[], Transport]
    env: dict[str, str] = field(default_factory=dict)
    run_tags: dict[str, str] = field(default_factory=dict)
    limiter: RateLimiter | None = None
    insecure: bool = False  # --insecure-skip-tls-verify, for wss:// (transports get their own)
    vu_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: this instance's execution segment: VU ids and iteration numbers test-wide come from it
    segment: ExecutionTuple = FULL_TUPLE
    vu_ids_in_test: LocalCounter | None = None
    transports: list[Transport] = field(default_factory=list)
    ws_clients: list[WSClient] = field(default_factory=list)  # closed at the end of the run
    abort_reason: str | None = None
    tracker: DeliveryTracker | None = None  # made on first use (vu.track)
    on_abort: Callable[[str], None] | None = None
    slowest: SlowestRequests | None = None  # --slowest N: the run's N slowest requests
    trace: TraceIds | None = None  # --trace-header: a trace id sent with each request
    _logged: dict[str, int] = field(default_factory=dict)
    _custom: dict[int, Metric] = field(default_factory=dict)

    def metric_for(self, cm: MetricDecl) -> Metric:
        m = self._custom.get(id(cm))
        if m is None:
            m = self.registry.define(cm.name, cm.type, cm.contains)
            self._custom[id(cm)] = m
        return m

    def next_vu_id_in_test(self) -> int:
        """k6's exec.vu.idInTest: 1-based, unique across every instance of a split test."""
        if self.vu_ids_in_test is None:
            self.vu_ids_in_test = LocalCounter(self.segment)
        return self.vu_ids_in_test.next() + 1

    def get_tracker(self) -> DeliveryTracker:
        if self.tracker is None:
            self.tracker = self.make_tracker()
        return self.tracker

    def existing_tracker(self) -> DeliveryTracker | None:
        """The tracker if a scenario has used one (draining sockets wait on it), else None."""
        return self.tracker

    def make_tracker(self, **options: Any) -> DeliveryTracker:
        """A delivery tracker wired to this run: its caller is the current task's VU."""
        return DeliveryTracker(self.clock, self.recorder, self.registry, run_tags=self.run_tags,
                               caller_tags=_caller_tags, caller_grace=_caller_grace,
                               log_once=self.log_once, **options)

    def log_once(self, key: str, message: str, level: int = logging.ERROR) -> None:
        """Log the first occurrence of each distinct problem; count the rest."""
        n = self._logged.get(key, 0)
        self._logged[key] = n + 1
        if n == 0:
            log.log(level, redact(message))  # an error or a traceback line may quote a URL

    def warn_once(self, key: str, message: str) -> None:
        self.log_once(key, message, logging.WARNING)

    def new_transport(self) -> Transport:
        t = self.transport_factory()
        self.transports.append(t)
        return t

    def abort(self, reason: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
            if self.on_abort is not None:
                self.on_abort(reason)

    async def close(self) -> None:
        await asyncio.gather(*(c.close_all() for c in self.ws_clients), return_exceptions=True)
        self.ws_clients.clear()
        await asyncio.gather(*(t.close() for t in self.transports), return_exceptions=True)
        self.transports.clear()


class ScenarioRuntime:
    """One scenario's execution context: the ExecContext that executors drive."""

    def __init__(self, run: RunContext, name: str, cls: type, executor: Executor | None, *,
                 base_url: str | None, tags: dict[str, str], expected: Any,
                 setup_data: Any = None, scenario_tag: bool = True,
                 group: str = "") -> None:
        self.run = run
        self.clock = run.clock
        self.recorder = run.recorder
        self.name = name
        self.cls = cls
        self.executor = executor
        self.env = run.env
        self.limiter = run.limiter
        self.setup_data = setup_data
        self.base_url = base_url
        self.expected = expected
        self.group = group
        base = dict(run.run_tags)
        base.update(tags)
        if scenario_tag:
            base["scenario"] = name
        self.base_tags = tagset(base)
        self.tag_cache: dict[tuple[Any, ...], TagSet] = {}
        reg = run.registry
        self.m_checks = reg["checks"]
        self.m_group_duration = reg["group_duration"]
        self._m_sent = reg["data_sent"]
        self._m_recv = reg["data_received"]
        self._m_lag = reg["iteration_lag"]
        self._m_latency = reg["iteration_latency"]
        self._m_dropped = reg["dropped_iterations"]
        self.active = 0
        self.allocated = 0
        self.started = 0
        self.completed = 0
        self.interrupted = 0
        self.dropped_count = 0
        self.failed = 0  # iterations that raised
        self.done = False
        self.ended_ns: int | None = None  # when the executor actually returned (progress)
        self.end_ns: int | None = None  # when the executor's own duration ends (set at start)
        self._first_ws_ns: int | None = None  # see scenario_end_ns
        self._end_estimate: int | None = None
        self.vus: list[VU] = []
        self._iterations_in_test = LocalCounter(
            executor.iteration_tuple if executor is not None else FULL_TUPLE)
        c_runner = fast_iteration.runner(self)
        if c_runner is not None:  # the C twin of iteration() below (fast_iteration.py)
            self.iteration = c_runner  # type: ignore[method-assign]

    # -- ExecContext ----------------------------------------------------------------------
    def new_vu(self) -> VU:
        """A VU of this scenario. Executor VUs are numbered 1..N across the run (k6's
        `__VU`); the VU that runs setup() or teardown() is 0, as in k6, and takes no number
        from the others."""
        vu_id = next(self.run.vu_ids) if self.executor is not None else 0
        vu = VU(vu_id, self, group=self.group)
        vu.id_in_test = self.run.next_vu_id_in_test() if self.executor is not None else 0
        inst = self.cls()
        inst.data = self.setup_data
        inst.vu = vu  # setup()/teardown() have no vu argument: self.vu.http works there too
        vu.instance = inst
        self.vus.append(vu)
        return vu

    # -- what a VU gets from its scenario (loadgen.scripting.scope.ScenarioScope) -----------
    def new_meter(self, tags: TagSource) -> Meter:
        return Meter(self.recorder, self.clock, tags, self.run.registry, limiter=self.limiter,
                     deferred_bytes=self.executor is not None,
                     scenario_end=self.scenario_end_ns, deliveries=self.run.existing_tracker,
                     slowest=self.run.slowest, trace=self.run.trace)

    def new_http_client(self, meter: Meter) -> HttpClient:
        return HttpClient(meter, self.run.new_transport(), base_url=self.base_url,
                          expected=self.expected, tag_cache=self.tag_cache,
                          max_response_bytes=getattr(self.cls, "max_response_bytes", None),
                          warn_once=self.run.warn_once)

    def new_ws_client(self, meter: Meter) -> WSClient:
        if self._first_ws_ns is None:
            self._first_ws_ns = self.clock.now_ns()
        from loadgen.net.ws import WSClient

        client = WSClient(meter, base_url=self.base_url, ws_base_url=self.env.get("WS_BASE_URL"),
                          insecure_skip_tls_verify=self.run.insecure)
        self.run.ws_clients.append(client)
        return client

    def delivery_tracker(self) -> DeliveryTracker:
        return self.run.get_tracker()

    def scenario_end_ns(self) -> int | None:
        """When this scenario's executor stops starting work (run clock); None for setup()
        and teardown(), which have no end of their own. Until the engine publishes end_ns
        (VUs used outside the engine), estimated from the first WebSocket client's creation."""
        if self.end_ns is not None:
            return int(self.end_ns)
        if self._end_estimate is None and self.executor is not None:
            try:
                start = self.clock.now_ns() if self._first_ws_ns is None else self._first_ws_ns
                self._end_estimate = int(start + self.executor.duration_ns())
            except (NotImplementedError, ValueError, TypeError):
                self._end_estimate = None
        return self._end_estimate

    def metric_for(self, cm: MetricDecl) -> Metric:
        return self.run.metric_for(cm)

    def log_once(self, key: str, message: str) -> None:
        self.run.log_once(key, message)

    def dropped(self, n: int) -> None:
        """k6's dropped_iterations; in the open-model latency view a dropped iteration is
        unserved (+inf): its user waited forever, which no small number may stand for."""
        self.dropped_count += n
        now = self.clock.now_ns()
        self.recorder.sample(self._m_dropped, float(n), self.base_tags, now)
        for _ in range(n):
            self.recorder.sample(self._m_latency, math.inf, self.base_tags, now)

    async def iteration(self, vu: VU, intended_ns: int | None = None,
                        index: int | None = None) -> None:
        """One iteration; `index` is its test-wide number when the executor knows it (an
        arrival's slot in the whole schedule), else the next of this segment's stripes."""
        clock = self.clock
        rec = self.recorder
        vu.iteration += 1
        vu.iteration_in_test = self._iterations_in_test.next() if index is None else index
        self.started += 1
        if current_vu.get() is not vu:  # a looping VU's task has it set from its first
            current_vu.set(vu)  # iteration on: a set per iteration cost a context copy
        t0 = clock.now_ns()
        try:
            await vu.instance.iteration(vu)
        except BaseException as e:  # noqa: BLE001 - _raised re-raises what is not ours
            self._raised(vu, e, t0, intended_ns)
        t1 = clock.now_ns()
        tags = vu.sample_tags
        meter = vu.meter
        # Recorder.iteration's and Recorder.sample's records, appended here (no call per
        # record: the open model's two samples ran per iteration)
        append = rec.records.append
        append((ITER, t1, tags, (t1 - t0) / 1e6, meter.bytes_sent, meter.bytes_received))
        meter.bytes_sent = meter.bytes_received = 0
        if intended_ns is not None:
            append((SAMPLE, t0, self._m_lag, (t0 - intended_ns) / 1e6, tags))
            append((SAMPLE, t1, self._m_latency, (t1 - intended_ns) / 1e6, tags))
        self.completed += 1

    def _interrupted(self, vu: VU, t0: int, intended_ns: int | None) -> None:
        """An iteration cut off by its VU's stop: neither completed nor dropped."""
        self.interrupted += 1
        t1 = self.clock.now_ns()
        self._emit_data(vu, t1)
        if intended_ns is not None:  # started but never finished: unserved, as dropped
            rec = self.recorder
            rec.sample(self._m_lag, (t0 - intended_ns) / 1e6, vu.sample_tags, t0)
            rec.sample(self._m_latency, math.inf, vu.sample_tags, t1)

    def _failed(self, e: Exception) -> None:
        """An iteration that raised: counted (it completes, as in k6) and logged once per
        place it raised from."""
        self.failed += 1
        frames = traceback.extract_tb(e.__traceback__)
        # (no frame: raised by the C runner itself, e.g. an iteration that is not async)
        at = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else self.cls.__qualname__
        self.run.log_once(
            f"iter:{self.name}:{type(e).__name__}:{at}",
            f"scenario {self.name}: iteration raised {type(e).__name__}: {e} "
            f"(at {at}); counted as a completed iteration, "
            "as k6 does\n" + "".join(traceback.format_exception(e)[-3:]))

    def _raised(self, vu: VU, e: BaseException, t0: int, intended_ns: int | None) -> None:
        """What an iteration does with an exception out of the scenario, for `iteration`
        and its C twin (execution/_iteration.c) alike: an error or an abort still counts
        the iteration (this returns); a cancellation counts it interrupted and, like
        anything else that is not an Exception, goes on up."""
        if isinstance(e, asyncio.CancelledError):
            self._interrupted(vu, t0, intended_ns)
            raise e
        if isinstance(e, TestAborted):
            self.run.abort(str(e) or "test aborted")
        elif isinstance(e, Exception):
            self._failed(e)
        else:
            raise e

    def _emit_data(self, vu: VU, t: int) -> None:
        tags, meter = vu.sample_tags, vu.meter
        self.recorder.sample(self._m_sent, float(meter.bytes_sent), tags, t)
        self.recorder.sample(self._m_recv, float(meter.bytes_received), tags, t)
        meter.bytes_sent = meter.bytes_received = 0


def _caller_tags() -> TagSet | None:
    """The sample tags of the VU running in this task (the delivery tracker's caller)."""
    vu = current_vu.get()
    return None if vu is None else vu.sample_tags


def _caller_grace() -> tuple[object, float | None] | None:
    """The current VU's scenario class and its delivery_grace (the tracker's grace)."""
    vu = current_vu.get()
    if vu is None:
        return None
    cls = type(vu.instance)
    grace = getattr(cls, "delivery_grace", None)
    return cls, None if grace is None else float(grace)
