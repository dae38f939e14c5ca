"""The outbox: POST /v1/messages enqueues, one consumer task fans out to WebSockets.

Going through an asyncio.Queue (rather than writing to sockets inside the POST handler)
is what makes the two lags real and separately measurable: dispatch lag is the time a
message waited in the queue, consumer lag is enqueue → frame written to a recipient's
socket. A slow socket cannot stall everyone forever: each send has a timeout, after which
that socket is closed and the delivery counted dead.

Two backend faults act here (backend_faults.py). A stopped consumer leaves what is in the
outbox and what arrives meanwhile *pending* (`messaging_consumer_pending`); the restart
either redelivers them (`messaging_consumer_reclaimed_total`) or drops them (dead,
reason `not_redelivered`). The stop is graceful: a delivery under way finishes, so a
restart never sends a frame twice. A broker partition sends each accepted message to a
bounded dead-letter store (deadletter.py) instead of the outbox; the heal replays it in
order, keeping each message's enqueue time so dispatch lag shows the partition, and new
messages queue behind the replay so order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from loadgen.demo.deadletter import DeadLetterStore
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
        self._running = True  # the consumer is on (may be between envelopes)
        self._idle = False  # the consumer waits in get(): a stop may cancel it there
        self._reclaim_left = 0  # reclaimed envelopes still at the head of the outbox
        self.reclaimed = 0
        self._dlq: DeadLetterStore[_Envelope] | None = None  # set while partitioned
        self._backlog: DeadLetterStore[_Envelope] | None = None  # being replayed
        self._replayer: asyncio.Task[None] | None = None
        self.replayed = 0
        self.dead_lettered = 0
        metrics.queue_depth.set_function(self._queue.qsize)
        metrics.consumer_pending.set_function(lambda: self.pending)
        metrics.dlq_depth.set_function(lambda: self.dlq_depth)

    # -- outbox ----------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def pending(self) -> int:
        """Messages the consumer owes: the whole outbox while stopped, then the reclaimed."""
        return self._queue.qsize() if not self._running else self._reclaim_left

    @property
    def dlq_depth(self) -> int:
        return len(self._dlq or ()) + len(self._backlog or ())

    @property
    def consumer_running(self) -> bool:
        return self._running

    @property
    def partitioned(self) -> bool:
        return self._dlq is not None

    def enqueue(self, message: Message, recipients: frozenset[str]) -> str | None:
        """None when accepted, else why not (the caller answers 503 with it)."""
        env = _Envelope(message, recipients, time.perf_counter())
        if self._dlq is not None:
            if not self._dlq.add(env):
                self._metrics.dlq_rejected.inc()
                return "broker partitioned and the dead-letter store is full"
            self.dead_lettered += 1
            self._metrics.dlq.inc()
            return None
        if self._backlog is not None:  # behind the replay, to keep the order
            if not self._backlog.add(env):
                self._dead("queue_full", len(recipients))
                return "outbox full"
            return None
        try:
            self._queue.put_nowait(env)
        except asyncio.QueueFull:
            self._dead("queue_full", len(recipients))
            return "outbox full"
        self._metrics.enqueued.inc()
        return None

    def _dead(self, reason: str, n: int = 1) -> None:
        self.dead += n
        self._metrics.dead.labels(reason).inc(n)

    async def _consume(self) -> None:
        """Runs until the consumer is stopped or the app cleans up (both cancel it)."""
        while self._running:
            self._idle = True
            env = await self._queue.get()
            self._idle = False
            if self._reclaim_left:
                self._reclaim_left -= 1
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
        """Wait until everything enqueued so far was handled, a replay of dead letters still
        under way included (tests, graceful shutdown)."""
        try:
            async with asyncio.timeout(within_s):
                await self._queue.join()
                while self._backlog is not None:  # noqa: ASYNC110 (the replay's own 20 ms tick)
                    await asyncio.sleep(0.02)
                    await self._queue.join()
        except TimeoutError:
            return False
        return True

    # -- the consumer fault -----------------------------------------------------------
    def stop_consumer(self) -> None:
        """Stop taking from the outbox (a delivery under way finishes first)."""
        if not self._running:
            return
        self._running = False
        self._reclaim_left = 0
        self._metrics.consumer_running.set(0)
        if self._consumer is not None and self._idle:
            self._consumer.cancel()  # waiting in get(): nothing is lost by cancelling there
            self._consumer = None

    def restart_consumer(self, redelivery: bool) -> None:
        """Start again; what is pending is redelivered, or dropped without `redelivery`."""
        if self._running:
            return
        n = self._queue.qsize()
        if redelivery:
            self._reclaim_left = n
            self.reclaimed += n
            self._metrics.consumer_reclaimed.inc(n)
        else:
            for _ in range(n):
                env = self._queue.get_nowait()
                self._queue.task_done()
                self._dead("not_redelivered", len(env.recipients))
        self._running = True
        self._metrics.consumer_running.set(1)
        if self._consumer is None or self._consumer.done():  # else it is finishing a delivery
            self._start_consumer()

    def _start_consumer(self) -> None:
        self._consumer = asyncio.create_task(self._consume(), name="demo-outbox-consumer")

    # -- the partition fault ------------------------------------------------------------
    def partition(self, dlq_max: int) -> None:
        """Dispatch writes go to a dead-letter store of `dlq_max` from now on."""
        if self._dlq is not None:
            self._dlq.capacity = max(dlq_max, len(self._dlq))
            return
        dlq: DeadLetterStore[_Envelope] = DeadLetterStore(dlq_max)
        if self._backlog is not None:  # a replay was under way: it waits again, in order
            while len(self._backlog):
                dlq.add(self._backlog.pop())
            dlq.capacity = max(dlq_max, len(dlq))
            self._backlog = None
        self._dlq = dlq
        self._metrics.broker_partitioned.set(1)
        self._metrics.dependency_up.labels("broker").set(0)

    def heal(self, replay: bool) -> None:
        """The broker is back: replay the dead letters into the outbox (or discard them)."""
        dlq, self._dlq = self._dlq, None
        if dlq is None:
            return
        self._metrics.broker_partitioned.set(0)
        self._metrics.dependency_up.labels("broker").set(1)
        if not replay:
            while len(dlq):
                self._dead("dlq_discarded", len(dlq.pop().recipients))
            return
        self._backlog = dlq
        if not self._pump() and (self._replayer is None or self._replayer.done()):
            self._replayer = asyncio.create_task(self._replay(), name="demo-dlq-replay")

    def _pump(self) -> bool:
        """Move dead letters into the outbox while it has room; True once all are moved."""
        backlog = self._backlog
        while backlog is not None and len(backlog) and not self._queue.full():
            self._queue.put_nowait(backlog.pop())
            self.replayed += 1
            self._metrics.dlq_replayed.inc()
            self._metrics.enqueued.inc()
        if backlog is not None and not len(backlog):
            self._backlog = None
        return self._backlog is None

    async def _replay(self) -> None:
        """The rest of a replay that did not fit the outbox at once (every 20 ms)."""
        while not self._pump():  # noqa: ASYNC110 (asyncio.Queue has no "room freed" event)
            await asyncio.sleep(0.02)

    # -- lifecycle -------------------------------------------------------------------
    async def lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: start the consumer, stop it (and a replay) on cleanup."""
        if self._running:
            self._start_consumer()
        yield
        for task in (self._consumer, self._replayer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._consumer = None
