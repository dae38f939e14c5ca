"""Interim results: counts per run (replaced by the metrics/threshold/summary pipeline)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from loadgen.clock import Clock
from loadgen.engine import Outcome
from loadgen.metrics.model import HTTP, SAMPLE
from loadgen.metrics.registry import Registry


@dataclass
class ResultsConfig:
    @classmethod
    def from_cli(cls, kw: dict[str, Any]) -> ResultsConfig:
        return cls()


class Results:
    def __init__(self, registry: Registry, specs: list[Any], cfg: ResultsConfig,
                 run_tags: dict[str, str]) -> None:
        self.counts: dict[str, float] = {}
        self.http = 0
        self.failed = 0

    def bind_clock(self, clock: Clock) -> None:
        pass

    def ingest(self, records: list[tuple[object, ...]]) -> None:
        for r in records:
            if r[0] == HTTP:
                self.http += 1
                self.failed += 1 if r[10] else 0
            elif r[0] == SAMPLE:
                name = r[2].name  # type: ignore[attr-defined]
                self.counts[name] = self.counts.get(name, 0.0) + float(r[3])  # type: ignore[arg-type]

    def tick(self, elapsed_s: float) -> bool:
        return False

    def close(self) -> None:
        pass

    def finish(self, outcome: Outcome) -> int:
        print(f"\n  iterations: {int(self.counts.get('iterations', 0))}  http_reqs: {self.http}"
              f"  failed: {self.failed}  dropped: {int(self.counts.get('dropped_iterations', 0))}"
              f"  duration: {outcome.duration_ns / 1e9:.1f}s", file=sys.stdout)
        return outcome.exit_code
