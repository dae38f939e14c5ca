"""A real-socket harness (RealClock, aiohttp transport) that keeps every record, and a way
to get a VU outside the engine for direct WSClient tests."""

from __future__ import annotations

import socket
from typing import Any

from loadgen.clock import RealClock
from loadgen.execution.engine import Engine, Hooks, Outcome, ScenarioSpec
from loadgen.execution.runtime import RunContext, ScenarioRuntime
from loadgen.executors import ConstantVUs, Executor
from loadgen.metrics.records import values_of
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.aiohttp_transport import AiohttpTransport
from loadgen.scripting.context import current_vu
from loadgen.scripting.scenario import Scenario
from loadgen.scripting.vu import VU


class RealHarness:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clock = RealClock()
        self.registry = Registry()
        self.recorder = Recorder()
        self.records: list[tuple[Any, ...]] = []
        self.run_ctx = RunContext(self.clock, self.registry, self.recorder, AiohttpTransport,
                                  env={"BASE_URL": base_url})
        self.engine: Engine | None = None

    async def run(self, *specs: tuple[type, Executor]) -> Outcome:
        self.engine = Engine(self.run_ctx, [
            ScenarioSpec(cls.scenario_name(), cls, ex, base_url=self.base_url,
                         expected=cls.expected_statuses)
            for cls, ex in specs], Hooks(ingest=self.records.extend))
        return await self.engine.execute()

    def vu(self, name: str = "direct") -> VU:
        """A VU of a scenario that is not run (for calling vu.ws directly)."""
        rt = ScenarioRuntime(self.run_ctx, name, Scenario, ConstantVUs(vus=1, duration="10s"),
                             base_url=self.base_url, tags={}, expected=((200, 399),))
        vu = rt.new_vu()
        current_vu.set(vu)
        return vu

    def samples(self, name: str) -> list[tuple[int, float, dict[str, str]]]:
        recs = self.records + self.recorder.records
        return [(t, v, dict(tags)) for t, v, tags in values_of(recs, name)]

    def total(self, name: str, **tags: str) -> float:
        return sum(v for _, v, t in self.samples(name)
                   if all(t.get(k) == want for k, want in tags.items()))

    def values(self, name: str) -> list[float]:
        return [v for _, v, _ in self.samples(name)]


def free_port() -> int:
    """A loopback port with nothing listening (for 'connection refused')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
