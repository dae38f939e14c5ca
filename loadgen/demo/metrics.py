"""Prometheus metrics of the demo service, so a load test can be checked from both ends.

Each app instance owns its CollectorRegistry (never the process-global one), so several
apps can run inside one test process without "duplicated timeseries" errors. Route
labels use the route template (`/v1/conversations/{id}`), never the raw path, to keep
label cardinality fixed under load.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# From 0.5 ms to 10 s: the demo's own handlers sit at the low end, stalls at the top.
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class DemoMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request handling time (WebSocket sessions excluded)",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.dispatch_lag = Histogram(
            "messaging_dispatch_lag_seconds",
            "Time a message waited in the outbox queue (enqueue to dequeue)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Histogram(
            "messaging_consumer_lag_seconds",
            "Enqueue to WebSocket frame written, per delivered frame",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delivered = Counter(
            "messaging_consumer_delivered", "Frames delivered to WebSockets", registry=r
        )
        self.dead = Counter(
            "messaging_outbox_dead",
            "Deliveries given up (reason: fault_drop, queue_full, send_failed, send_timeout)",
            ["reason"],
            registry=r,
        )
        self.enqueued = Counter("messaging_enqueued", "Messages put on the outbox", registry=r)
        self.queue_depth = Gauge("messaging_queue_depth", "Messages in the outbox", registry=r)
        self.cache_hits = Counter("participant_cache_hits", "Participant cache hits", registry=r)
        self.cache_misses = Counter(
            "participant_cache_misses", "Participant cache misses", registry=r
        )
        self.ws_connections = Gauge(
            "ws_connections", "Open WebSocket connections", ["kind"], registry=r
        )
        self.faults_injected = Counter(
            "faults_injected", "Faults applied, by kind", ["kind"], registry=r
        )
        self._backend(r)
        # Pre-create the label sets scrapers and tests look for, so they read 0, not absent.
        for reason in ("fault_drop", "queue_full", "send_failed", "send_timeout",
                       "not_redelivered", "dlq_discarded"):
            self.dead.labels(reason)
        for kind in ("messaging", "echo"):
            self.ws_connections.labels(kind)

    def _backend(self, r: CollectorRegistry) -> None:
        """The series of the backend faults (backend_faults.py), one group per fault."""
        self.consumer_running = Gauge(
            "messaging_consumer_running", "1 while the outbox consumer runs", registry=r
        )
        self.consumer_pending = Gauge(
            "messaging_consumer_pending",
            "Messages accepted while the consumer was stopped, not yet taken by it",
            registry=r,
        )
        self.consumer_reclaimed = Counter(
            "messaging_consumer_reclaimed", "Pending messages redelivered at a restart", registry=r
        )
        self.broker_partitioned = Gauge(
            "messaging_broker_partitioned", "1 while the broker is partitioned", registry=r
        )
        self.dlq = Counter(
            "messaging_dispatch_dlq", "Dispatch writes sent to the dead-letter store", registry=r
        )
        self.dlq_depth = Gauge(
            "messaging_dispatch_dlq_depth", "Messages in the dead-letter store", registry=r
        )
        self.dlq_rejected = Counter(
            "messaging_dispatch_dlq_rejected",
            "Messages refused (503) because the dead-letter store was full",
            registry=r,
        )
        self.dlq_replayed = Counter(
            "messaging_dispatch_replayed",
            "Dead-lettered messages replayed into the outbox after a heal",
            registry=r,
        )
        self.pool_in_use = Gauge(
            "storage_pool_in_use", "Storage connections in use (held ones included)", registry=r
        )
        self.pool_size = Gauge("storage_pool_size", "Storage connections in the pool", registry=r)
        self.pool_timeouts = Counter(
            "storage_pool_timeouts", "Requests that found no free storage connection", registry=r
        )
        self.breaker_transitions = Counter(
            "storage_circuit_breaker_transitions",
            "Circuit breaker state changes, by the state entered",
            ["state"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "storage_circuit_breaker_state", "1 for the breaker's current state", ["state"],
            registry=r,
        )
        self.dependency_up = Gauge(
            "dependency_up", "1 while a dependency is up", ["dependency"], registry=r
        )
        self.migration_in_progress = Gauge(
            "migration_in_progress", "1 while a schema migration holds the write lock", registry=r
        )
        self.migration_rejected = Counter(
            "migration_writes_rejected",
            "Writes answered 503 after waiting out their deadline on the migration lock",
            registry=r,
        )
        self.consumer_running.set(1)
        for state in ("closed", "open", "half_open"):
            self.breaker_transitions.labels(state)
            self.breaker_state.labels(state).set(1 if state == "closed" else 0)
        for dep in ("store", "cache", "broker"):
            self.dependency_up.labels(dep).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """GET /metrics in the Prometheus text format 0.0.4."""
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def metrics_middleware(get_metrics: Callable[[web.Request], DemoMetrics]) -> Middleware:
    """Outermost middleware: counts every answer, including injected and error ones."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        metrics = get_metrics(request)
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = route_label(request)
            is_ws = status == 101  # a WebSocket session's "duration" is its lifetime
            metrics.http_requests.labels(request.method, route, str(status)).inc()
            if not is_ws:
                metrics.http_duration.labels(request.method, route).observe(
                    time.perf_counter() - start
                )

    return middleware
