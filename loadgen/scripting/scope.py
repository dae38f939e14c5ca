"""What a VU needs from the scenario it runs in, as Protocols.

The execution layer (`loadgen.execution.runtime.ScenarioRuntime`) provides all of this, but
the VU only knows these shapes: scripting sits below execution and never imports it, so the
package has no import cycle, and a test can hand a VU any object of this shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from loadgen.clock import Clock
from loadgen.executors import Executor
from loadgen.messaging.track import DeliveryTracker
from loadgen.metrics.model import Contains, Metric, MetricType, TagSet
from loadgen.metrics.registry import Recorder
from loadgen.net.client import HttpClient
from loadgen.net.meter import Meter, TagSource

if TYPE_CHECKING:  # loaded on first vu.ws use: the websockets library costs ~4 MiB
    from loadgen.net.ws import WSClient


class MetricDecl(Protocol):
    """A user-declared metric (`Counter("orders")`, scripting/metrics.py): what the run
    needs to register it."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> MetricType: ...

    @property
    def contains(self) -> Contains: ...


class ScenarioScope(Protocol):
    """One scenario's execution context as its VUs see it (`vu.rt`)."""

    @property
    def name(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def recorder(self) -> Recorder: ...

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def setup_data(self) -> Any: ...

    @property
    def executor(self) -> Executor | None:
        """None for the VUs that run setup() and teardown()."""

    @property
    def end_ns(self) -> int | None:
        """When the scenario's own duration ends (run clock); None when unknown."""

    @property
    def base_tags(self) -> TagSet:
        """Run tags + scenario tags (+ the scenario tag)."""

    @property
    def tag_cache(self) -> dict[tuple[Any, ...], TagSet]: ...

    @property
    def m_checks(self) -> Metric: ...

    @property
    def m_group_duration(self) -> Metric: ...

    def log_once(self, key: str, message: str) -> None: ...

    def metric_for(self, metric: MetricDecl) -> Metric: ...

    def new_meter(self, tags: TagSource) -> Meter:
        """The meter a VU's clients record through (the VU is its tag source)."""

    def new_http_client(self, meter: Meter) -> HttpClient: ...

    def new_ws_client(self, meter: Meter) -> WSClient: ...

    def delivery_tracker(self) -> DeliveryTracker:
        """The run-wide tracker, made on first use."""
