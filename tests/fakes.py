"""Test doubles shared by unit tests: a server function for loadgen.testing.MockTransport that
answers on the fake clock, and a harness that runs scenarios under virtual time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loadgen.clock import FakeClock
from loadgen.execution.engine import Engine, Hooks, Outcome, ScenarioSpec
from loadgen.execution.runtime import RunContext
from loadgen.executors import Executor
from loadgen.metrics.records import values_of
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.types import Headers, RawResponse, Request, Timings
from loadgen.testing import MockTransport


class FakeServer:
    """A MockTransport handler: answers `status` after `latency(request)` seconds of (fake)
    time, with the wire sizes and timings a real hop would report."""

    def __init__(self, clock: FakeClock, latency: Callable[[Request], float] = lambda r: 0.01,
                 status: int = 200) -> None:
        self.clock = clock
        self.latency = latency
        self.status = status

    async def __call__(self, request: Request) -> RawResponse:
        lat = self.latency(request)
        await self.clock.sleep(lat)
        return RawResponse(self.status, Headers([("Content-Length", "2")]), b"ok", "HTTP/1.1",
                           Timings(waiting=lat * 1000), "", 0, 50, 40)


class Harness:
    """Runs scenario classes on a fake clock and keeps every record for assertions."""

    def __init__(self, latency: Callable[[Request], float] = lambda r: 0.01) -> None:
        self.clock = FakeClock()
        self.registry = Registry()
        self.recorder = Recorder()
        self.records: list[tuple[Any, ...]] = []
        self.server = FakeServer(self.clock, latency)
        self.transport = MockTransport(self.server)
        self.run_ctx = RunContext(self.clock, self.registry, self.recorder,
                                  lambda: self.transport, env={"BASE_URL": "http://127.0.0.1:9"})
        self.engine: Engine | None = None

    async def run(self, *specs: tuple[type, Executor], hooks: Hooks | None = None) -> Outcome:
        hooks = hooks or Hooks()
        hooks.ingest = self.records.extend
        self.engine = Engine(self.run_ctx, [
            ScenarioSpec(cls.scenario_name(), cls, ex, base_url="http://127.0.0.1:9",
                         expected=cls.expected_statuses)
            for cls, ex in specs], hooks)
        return await self.clock.run(self.engine.execute())

    def samples(self, name: str) -> list[tuple[int, float, dict[str, str]]]:
        """(t_ns, value, tags) of every sample of a metric, HTTP records expanded."""
        return [(t, v, dict(tags)) for t, v, tags in values_of(self.records, name)]

    def count(self, name: str, scenario: str | None = None) -> float:
        return sum(v for _, v, tags in self.samples(name)
                   if scenario is None or tags.get("scenario") == scenario)
