"""The reference target service: a small messaging backend that load scenarios hit.

It has the moving parts real backends have (auth, optimistic-concurrency CRUD, a cache
needing invalidation, an async fan-out queue to WebSockets, skewed-latency endpoints,
Prometheus metrics) plus switchable faults, so scenarios, the README and the test suite
have something honest to measure.
"""

from __future__ import annotations

from loadgen.demo.app import create_app
from loadgen.demo.config import DemoConfig, Faults, LatencyProfile
from loadgen.demo.server import serve, start_server

__all__ = ["DemoConfig", "Faults", "LatencyProfile", "create_app", "serve", "start_server"]
