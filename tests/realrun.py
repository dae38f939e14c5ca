"""Run scenario classes for real (RealClock, real sockets), keeping every record."""

from __future__ import annotations

from typing import Any

from loadgen.clock import RealClock
from loadgen.execution.engine import Engine, Hooks, Outcome, ScenarioSpec
from loadgen.execution.runtime import RunContext
from loadgen.executors import Executor
from loadgen.metrics.records import values_of
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.aiohttp_transport import AiohttpTransport


class RealRun:
    def __init__(self, base_url: str, transport: Any = AiohttpTransport) -> None:
        self.base_url = base_url
        self.registry = Registry()
        self.records: list[tuple[Any, ...]] = []
        self.run_ctx = RunContext(RealClock(), self.registry, Recorder(), transport,
                                  env={"BASE_URL": base_url})
        self.engine: Engine | None = None

    async def run(self, *specs: tuple[type, Executor]) -> Outcome:
        self.engine = Engine(self.run_ctx, [
            ScenarioSpec(cls.scenario_name(), cls, ex, base_url=self.base_url,
                         expected=cls.expected_statuses)
            for cls, ex in specs], Hooks(ingest=self.records.extend))
        return await self.engine.execute()

    def values(self, name: str) -> list[float]:
        return [v for _, v, _ in values_of(self.records, name)]
