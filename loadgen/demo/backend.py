"""The service's dependencies and their faults: storage pool, breaker, migration, outages.

`Backend.apply()` puts a fault set's backend faults (backend_faults.py) into effect and is
called whenever the set is replaced (POST/DELETE /admin/faults, and at start-up).
`backend_middleware` guards the routes that need storage, in this order, each answering a
JSON 503 with Retry-After rather than hanging or crashing:

1. a cache route (`GET /v1/conversations/{id}/participants`, the cache's own view) with
   the cache down: `dependency down: cache`;
2. a write (any method but GET/HEAD/OPTIONS) during a migration: waits for the write lock,
   then `write blocked by schema migration`;
3. the breaker open (breaker.py): `storage circuit open`;
4. no connection from the pool in time (pool.py): `storage pool exhausted`;
5. the store down: `dependency down: store`.

4 and 5 count as breaker failures, any answer of the handler (a 404 or 409 too: the store
did answer) as a success. Store routes are /v1/conversations... and POST /v1/messages; the
WebSocket routes are not (a socket would hold a connection for its lifetime).

`GET /health` answers **200** with `status: degraded` (and which dependency) rather than
503 while something is down: the process is alive and still serves what does not need the
broken dependency, and a 503 would make a liveness probe restart a service that restarting
cannot cure (the cascade Test 11 is about). `/healthz` stays the plain liveness answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from loadgen.demo import breaker as cb
from loadgen.demo.config import DemoConfig, Faults
from loadgen.demo.jsonio import error_response, json_response
from loadgen.demo.messaging import Hub
from loadgen.demo.metrics import DemoMetrics
from loadgen.demo.migration import SchemaMigration
from loadgen.demo.pool import PoolTimeout, StoragePool

CACHE_ROUTE = "/v1/conversations/{id}/participants"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def needs_store(route: str) -> bool:
    return route.startswith("/v1/conversations") or route == "/v1/messages"


class Backend:
    def __init__(self, config: DemoConfig, metrics: DemoMetrics, hub: Hub) -> None:
        self._metrics = metrics
        self.hub = hub
        self.pool = StoragePool(config.pool_size, config.pool_timeout_s,
                                on_change=metrics.pool_in_use.set)
        metrics.pool_size.set(self.pool.size)
        self.breaker = cb.CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s,
                                         on_transition=self._transition)
        self.migration = SchemaMigration(on_change=metrics.migration_in_progress.set)
        self.store_down = False
        self.cache_down = False
        self._redelivery = True  # what the restart of a stopped consumer does
        self._replay = True  # what the heal of a partition does

    def _transition(self, old: str, new: str) -> None:
        self._metrics.breaker_transitions.labels(new).inc()
        self._metrics.breaker_state.labels(old).set(0)
        self._metrics.breaker_state.labels(new).set(1)

    def apply(self, faults: Faults) -> None:
        """Put the set's backend faults into effect; the ones it omits end."""
        hub = self.hub
        if faults.consumer is not None:
            hub.stop_consumer()
            self._redelivery = faults.consumer.redelivery
        else:
            hub.restart_consumer(self._redelivery)
        if faults.partition is not None:
            hub.partition(faults.partition.dlq_max)
            self._replay = faults.partition.replay
        else:
            hub.heal(self._replay)
        pool = faults.pool
        if pool is not None and pool.exhaust:
            self.pool.exhaust()
        else:
            self.pool.restore()
        self.pool.query_s = pool.query_ms / 1000.0 if pool is not None else 0.0
        outage = faults.outage
        self.store_down = outage is not None and outage.store
        self.cache_down = outage is not None and outage.cache
        self._metrics.dependency_up.labels("store").set(0 if self.store_down else 1)
        self._metrics.dependency_up.labels("cache").set(0 if self.cache_down else 1)
        if faults.migration is not None:
            self.migration.start(faults.migration.lock_s, faults.migration.write_timeout_s)
        else:
            self.migration.finish()

    async def lifecycle(self, app: web.Application, faults: Faults) -> AsyncIterator[None]:
        """Start-up faults take effect once the loop runs; held connections go at cleanup."""
        self.apply(faults)
        yield
        self.migration.finish()
        await self.pool.close()

    def health(self) -> dict[str, Any]:
        hub, br = self.hub, self.breaker
        problems = [name for name, bad in (
            ("store", self.store_down), ("cache", self.cache_down),
            ("broker", hub.partitioned), ("consumer", not hub.consumer_running),
            ("storage_pool", br.state != cb.CLOSED or self.pool.exhausted),
            ("migration", self.migration.in_progress)) if bad]
        return {
            "status": "degraded" if problems else "ok",
            "degraded": problems,
            "store": "down" if self.store_down else "up",
            "cache": "down" if self.cache_down else "up",
            "broker": "partitioned" if hub.partitioned else "up",
            "consumer": "running" if hub.consumer_running else "stopped",
            "pending": hub.pending,
            "reclaimed": hub.reclaimed,
            "outbox": hub.queue_depth,
            "dlq": hub.dlq_depth,
            "dead_lettered": hub.dead_lettered,
            "replayed": hub.replayed,
            "storage_pool": {"size": self.pool.size, "in_use": self.pool.in_use,
                             "waiting": self.pool.waiting, "held": self.pool.held},
            "breaker": {"state": br.state, "transitions": dict(br.transitions)},
            "migration": {"in_progress": self.migration.in_progress,
                          "remaining_s": round(self.migration.remaining_s, 3)},
        }

    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The checks of the module docstring around one storage request."""
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else ""
        if not needs_store(canonical):
            return await handler(request)
        if self.cache_down and canonical == CACHE_ROUTE and request.method == "GET":
            return _unavailable("dependency down: cache")
        if request.method not in _READS and not await self.migration.writable():
            self._metrics.migration_rejected.inc()
            return _unavailable("write blocked by schema migration",
                                max(1, round(self.migration.remaining_s)))
        br = self.breaker
        if not br.allow():
            return _unavailable("storage circuit open", br.retry_after_s())
        answered = False
        try:
            async with self.pool.connection():
                if self.store_down:
                    br.failure()
                    answered = True
                    return _unavailable("dependency down: store")
                try:
                    response = await handler(request)
                except Exception:  # a 404, 409, ...: the store did answer
                    br.success()
                    answered = True
                    raise
                br.success()
                answered = True
                return response
        except PoolTimeout:
            self._metrics.pool_timeouts.inc()
            br.failure()
            answered = True
            return _unavailable("storage pool exhausted")
        finally:
            if not answered:
                br.abandon()


def _unavailable(message: str, retry_after: int = 1) -> web.Response:
    return error_response(503, message, {"Retry-After": str(retry_after)})


def backend_middleware(get_backend: Callable[[web.Request], Backend]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await get_backend(request).guard(request, handler)

    return middleware


def health_handler(get_backend: Callable[[web.Request], Backend]) -> Handler:
    async def health(request: web.Request) -> web.StreamResponse:
        """GET /health: 200, `status` ok or degraded, and every dependency's state."""
        return json_response(get_backend(request).health())

    return health
