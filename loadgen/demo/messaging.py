"""The outbox: POST /v1/messages enqueues, one consumer task fans out to WebSockets.

Going through an asyncio.Queue (rather than writing to sockets inside the POST handler)
is what makes the two lags real and separately measurable: dispatch lag is the time a
message waited in the queue, consumer lag is enqueue → frame written to a recipient's
socket. A slow socket cannot stall everyone forever: each send has a timeout, after which
that socket is closed and the delivery counted dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from loadgen.demo.faults import FaultInjector
from loadgen.demo.jsonio import dumps
from loadgen.demo.metrics import DemoMetrics
from loadgen.demo.sockets import SocketRegistry
from loadgen.demo.store import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Envelope:
    message: Message
    recipients: frozenset[str]
    enqueued: float  # perf_counter()


class Hub:
    """The outbox queue, its consumer, and the open sockets it delivers to."""

    def __init__(
        self, metrics: DemoMetrics, faults: FaultInjector, *, queue_size: int, send_timeout_s: float
    ) -> None:
        self._metrics = metrics
        self._faults = faults
        self._queue: asyncio.Queue[_Envelope] = asyncio.Queue(maxsize=max(1, queue_size))
        self._send_timeout = send_timeout_s
        self._consumer: asyncio.Task[None] | None = None
        self.sockets = SocketRegistry(metrics)
        self.delivered = 0
        self.dead = 0
        metrics.queue_depth.set_function(self._queue.qsize)

    # -- outbox ----------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def enqueue(self, message: Message, recipients: frozenset[str]) -> bool:
        """False when the outbox is full (the caller answers 503)."""
        try:
            self._queue.put_nowait(_Envelope(message, recipients, time.perf_counter()))
        except asyncio.QueueFull:
            self._dead("queue_full", len(recipients))
            return False
        self._metrics.enqueued.inc()
        return True

    def _dead(self, reason: str, n: int = 1) -> None:
        self.dead += n
        self._metrics.dead.labels(reason).inc(n)

    async def _consume(self) -> None:
        """Runs for the app's lifetime; cancelled by the cleanup context."""
        while True:
            env = await self._queue.get()
            try:
                self._metrics.dispatch_lag.observe(time.perf_counter() - env.enqueued)
                await self._deliver(env)
            except Exception:  # one bad envelope must not kill the consumer
                log.exception("delivery of message %s failed", env.message.id)
            finally:
                self._queue.task_done()

    async def _deliver(self, env: _Envelope) -> None:
        plain: str | None = None
        for user in sorted(env.recipients):
            for ws in self.sockets.of_user(user):
                if self._faults.drop():
                    self._dead("fault_drop")
                    continue
                body = self._faults.corrupt_text(env.message.body)
                if body is env.message.body:
                    if plain is None:
                        plain = dumps(env.message.to_frame())
                    payload = plain
                else:
                    payload = dumps(env.message.to_frame(body))
                await self._send(ws, payload, env.enqueued)

    async def _send(self, ws: web.WebSocketResponse, payload: str, t0: float) -> None:
        if ws.closed:
            self._dead("send_failed")
            return
        try:
            async with asyncio.timeout(self._send_timeout):  # no extra task, unlike wait_for
                await ws.send_str(payload)
        except TimeoutError:
            self._dead("send_timeout")
            self.sockets.request_close(ws, 1011, b"send timeout")
            return
        except (ConnectionError, RuntimeError):
            self._dead("send_failed")
            return
        self.delivered += 1
        self._metrics.delivered.inc()
        self._metrics.consumer_lag.observe(time.perf_counter() - t0)

    async def drain(self, within_s: float) -> bool:
        """Wait until everything enqueued so far was handled (tests, graceful shutdown)."""
        try:
            await asyncio.wait_for(self._queue.join(), within_s)
        except TimeoutError:
            return False
        return True

    # -- lifecycle -------------------------------------------------------------------
    async def lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: start the consumer, stop it on cleanup."""
        self._consumer = asyncio.create_task(self._consume(), name="demo-outbox-consumer")
        yield
        self._consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._consumer
        self._consumer = None
