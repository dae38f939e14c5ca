"""The arrival-rate executors' VUs as long-lived tasks: an arrival hands its start to an idle
VU's task through a future, instead of spawning a task per iteration.

Why: at 10,000 starts/s the task per arrival (create_task, asyncio's weak set of all tasks, a
done callback, a wrapper coroutine, the task set's bookkeeping) was ~3.7 us of CPU per
iteration against ~1.5 us for a future handed to a waiting task (a loop of 200,000 no-op
iterations on one core, 2026-12-03), and ~150 of the ~1,000 bytecodes an arrival cost.

k6's stop window is kept: `finish(deadline)` lets busy VUs end their iteration until the
deadline, then interrupts the rest (the iteration counts itself interrupted); idle VUs'
tasks just end.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loadgen.clock import Clock, wait_first
from loadgen.executors.base import ExecContext


class _Worker:
    __slots__ = ("vu", "fut")

    def __init__(self, vu: Any, fut: asyncio.Future[tuple[int, int]]) -> None:
        self.vu = vu
        self.fut = fut  # resolved with (intended start ns, test-wide index) to run one


class Workers:
    """Idle VUs (LIFO: the most recently used first, warm connections) and their tasks."""

    def __init__(self, ctx: ExecContext, clock: Clock) -> None:
        self.ctx = ctx
        self.clock = clock
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Worker] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.busy = 0
        self._all_idle: asyncio.Future[None] | None = None  # set while finish() waits
        #: an exception that escaped ctx.iteration (a bug of ours: scenario errors are handled
        #: inside it), kept and re-raised by finish() so it is never lost
        self.error: BaseException | None = None

    def add(self, vu: Any) -> None:
        """A new idle VU with its task."""
        w = _Worker(vu, self.loop.create_future())
        self.tasks.append(self.loop.create_task(self._work(w)))
        self.idle.append(w)

    def start(self, intended_ns: int, index: int) -> bool:
        """Hand a start to an idle VU; False when none is idle."""
        idle = self.idle
        if not idle:
            return False
        self.busy += 1
        idle.pop().fut.set_result((intended_ns, index))
        return True

    async def _work(self, w: _Worker) -> None:
        ctx = self.ctx
        iteration = ctx.iteration
        create_future = self.loop.create_future
        while True:
            intended, index = await w.fut
            w.fut = create_future()
            ctx.active += 1
            try:
                await iteration(w.vu, intended, index)
            except Exception as e:  # noqa: BLE001 - kept for finish(); this VU stops here
                if self.error is None:
                    self.error = e
                return
            finally:
                ctx.active -= 1
                self.busy -= 1
                if not self.busy and self._all_idle is not None and not self._all_idle.done():
                    self._all_idle.set_result(None)
            self.idle.append(w)

    async def finish(self, deadline_ns: int) -> None:
        """Let busy VUs finish until the deadline, then interrupt what is left; every task
        has ended when this returns."""
        if self.busy:
            self._all_idle = self.loop.create_future()
            await wait_first(self.clock, deadline_ns, self._all_idle)
        await self.stop()
        if self.error is not None:
            raise self.error

    async def stop(self) -> None:
        """End every task now: a busy VU's iteration is interrupted."""
        tasks, self.tasks = self.tasks, []
        self.idle.clear()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
