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
        # Pre-create the label sets scrapers and tests look for, so they read 0, not absent.
        for reason in ("fault_drop", "queue_full", "send_failed", "send_timeout"):
            self.dead.labels(reason)
        for kind in ("messaging", "echo"):
            self.ws_connections.labels(kind)

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
