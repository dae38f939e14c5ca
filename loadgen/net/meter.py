"""The meter: everything a network client needs to record its samples, and nothing more.

The HTTP and WebSocket clients used to reach through their VU into the scenario runtime
(`vu.rt.recorder`, `vu.rt.run.registry`, ...), which tied `net/` to the layers above it in
one import cycle. Instead, each VU owns one `Meter`, built by the execution layer, and hands
it to its clients: `net/` only knows this small object, and a test can build one by hand.

It is slotted and holds plain references (no per-request work): the HTTP hot path reads
`meter.recorder`, `meter.clock`, `meter.tags.sample_tags` and bumps the byte counters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from loadgen.clock import Clock
from loadgen.metrics.model import TagSet
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.limiter import RateLimiter

if TYPE_CHECKING:
    from loadgen.metrics.slowest import SlowestRequests
    from loadgen.net.trace import TraceIds


class TagSource(Protocol):
    """Whatever knows the current sample tags (the VU: they change with groups and VU tags)."""

    @property
    def sample_tags(self) -> TagSet: ...


class Deliveries(Protocol):
    """The part of the run's delivery tracker a draining WebSocket waits on."""

    @property
    def outstanding(self) -> int: ...

    def grace_deadline(self) -> int: ...

    async def wait_idle(self, deadline_ns: int) -> bool: ...


def _no_end() -> int | None:
    return None


def _no_deliveries() -> Deliveries | None:
    return None


class Meter:
    """What one VU's clients record through: recorder, clock, tags, byte counters, limiter,
    and for WebSockets the registry, the scenario's end and the delivery tracker."""

    __slots__ = ("recorder", "clock", "tags", "limiter", "registry", "bytes_sent",
                 "bytes_received", "deferred_bytes", "scenario_end", "deliveries", "slowest",
                 "trace")

    def __init__(self, recorder: Recorder, clock: Clock, tags: TagSource, registry: Registry,
                 *, limiter: RateLimiter | None = None, deferred_bytes: bool = True,
                 scenario_end: Callable[[], int | None] = _no_end,
                 deliveries: Callable[[], Deliveries | None] = _no_deliveries,
                 slowest: SlowestRequests | None = None, trace: TraceIds | None = None,
                 ) -> None:
        self.recorder = recorder
        self.clock = clock
        self.tags = tags
        self.registry = registry
        #: the run's `--rps-limit` token bucket; None without one
        self.limiter = limiter
        #: wire bytes since the owner last emitted data_sent/data_received
        self.bytes_sent = 0
        self.bytes_received = 0
        #: True when an iteration end emits the byte counters (executor VUs); setup() and
        #: teardown() VUs have no later iteration end, so long-lived sockets there record
        #: their bytes at once (see add_bytes)
        self.deferred_bytes = deferred_bytes
        #: when the scenario stops starting work (run clock), None when unknown or none
        self.scenario_end = scenario_end
        #: the run's delivery tracker if one exists (sockets drain in-flight messages)
        self.deliveries = deliveries
        #: the run's N-slowest tracker (--slowest; None: off)
        self.slowest = slowest
        #: the trace ids sent with each request (--trace-header; None: off)
        self.trace = trace

    def add_bytes(self, sent: int, received: int) -> None:
        """Count wire bytes: into the counters the iteration end emits, or straight into
        data_sent/data_received when no iteration end will come."""
        if not (sent or received):
            return
        if self.deferred_bytes:
            self.bytes_sent += sent
            self.bytes_received += received
            return
        now, ts, reg = self.clock.now_ns(), self.tags.sample_tags, self.registry
        self.recorder.sample(reg["data_sent"], float(sent), ts, now)
        self.recorder.sample(reg["data_received"], float(received), ts, now)
