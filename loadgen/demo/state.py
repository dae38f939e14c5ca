"""The per-app object graph, stored under one typed AppKey.

Handlers reach everything through `state(request)`, never through module globals, so any
number of demo apps can live side by side in one process (tests start several).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from aiohttp import web

from loadgen.demo.auth import TokenStore
from loadgen.demo.backend import Backend
from loadgen.demo.config import DemoConfig
from loadgen.demo.faults import FaultInjector
from loadgen.demo.messaging import Hub
from loadgen.demo.metrics import DemoMetrics
from loadgen.demo.store import Store


def _rng(seed: int | None, stream: str) -> random.Random:
    """An independent, reproducible stream per purpose (str seeds hash stably)."""
    return random.Random(f"{seed}:{stream}") if seed is not None else random.Random()


@dataclass(slots=True)
class DemoState:
    config: DemoConfig
    metrics: DemoMetrics
    tokens: TokenStore
    store: Store
    faults: FaultInjector
    hub: Hub
    backend: Backend
    work_rng: random.Random

    @classmethod
    def build(cls, config: DemoConfig) -> DemoState:
        metrics = DemoMetrics()
        store = Store(
            history_limit=config.history_limit,
            max_conversations=config.max_conversations,
            on_cache_hit=metrics.cache_hits.inc,
            on_cache_miss=metrics.cache_misses.inc,
        )
        faults = FaultInjector(
            config.faults,
            _rng(config.seed, "faults"),
            on_inject=lambda kind: metrics.faults_injected.labels(kind).inc(),
        )
        hub = Hub(
            metrics, faults, queue_size=config.queue_size, send_timeout_s=config.send_timeout_s
        )
        return cls(
            config=config,
            metrics=metrics,
            tokens=TokenStore(config.max_tokens, config.password),
            store=store,
            faults=faults,
            hub=hub,
            backend=Backend(config, metrics, hub),
            work_rng=_rng(config.seed, "work"),
        )


STATE = web.AppKey("loadgen_demo_state", DemoState)


def state(request: web.Request) -> DemoState:
    return request.app[STATE]
