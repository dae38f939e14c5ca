"""What every executor shares: k6's common options, the stop window, and the run context.

An executor decides *when* iterations start and on which VU; everything else (running the
iteration, accounting, metrics) is the context's job, so the six executors stay small.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from loadgen.clock import Clock, wait_first
from loadgen.execution.segments import FULL_TUPLE, ExecutionTuple
from loadgen.options import format_duration, parse_duration

DEFAULT_GRACEFUL_STOP = "30s"


class VULike(Protocol):
    id: int


class ExecContext(Protocol):
    """What an executor may use: the clock, VUs, and the iteration runner."""

    clock: Clock
    name: str
    active: int  # VUs running an iteration (or looping) now: progress and the vus metric
    allocated: int  # VUs initialised for this scenario: the vus_max metric

    def new_vu(self) -> Any: ...

    async def iteration(self, vu: Any, intended_ns: int | None = None,
                        index: int | None = None) -> None: ...

    def dropped(self, n: int) -> None: ...


@dataclass(kw_only=True)
class Executor:
    """k6's common scenario options (k6-compat.md §4.1)."""

    type_name: ClassVar[str] = ""

    start_time: Any = "0s"
    graceful_stop: Any = DEFAULT_GRACEFUL_STOP
    tags: dict[str, str] = field(default_factory=dict)
    #: this instance's execution segment (k6-compat.md §7); set by for_segment()
    segment: ExecutionTuple = field(default=FULL_TUPLE, init=False, repr=False, compare=False)
    #: how this executor's iterations are numbered test-wide (k6's iterationInTest): its own
    #: share of them follows this tuple's stripes
    iteration_tuple: ExecutionTuple = field(default=FULL_TUPLE, init=False, repr=False,
                                            compare=False)

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> list[str]:
        """Every problem with this configuration, worded for a human; [] when valid."""
        problems: list[str] = []
        for attr in ("start_time", "graceful_stop"):
            self._dur(attr, problems)
        if not isinstance(self.tags, dict):
            problems.append("tags must be a mapping of tag name to value")
        return problems + self._validate()

    def _validate(self) -> list[str]:
        return []

    def _dur(self, attr: str, problems: list[str], *, required: bool = False,
             minimum_ns: int = 0) -> int:
        value = getattr(self, attr)
        if value is None:
            if required:
                problems.append(f"{attr} is required")
            return 0
        try:
            ns = parse_duration(value, what=attr)
        except ValueError as e:
            problems.append(str(e))
            return 0
        if ns < minimum_ns:
            problems.append(f"{attr} must be at least {format_duration(minimum_ns)}, got {value!r}")
        return ns

    def _int(self, attr: str, problems: list[str], *, minimum: int, required: bool = False) -> int:
        value = getattr(self, attr)
        if value is None:
            if required:
                problems.append(f"{attr} is required")
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{attr} must be a whole number, got {value!r}")
            return 0
        if value < minimum:
            problems.append(f"{attr} must be at least {minimum}, got {value}")
        return value

    # -- execution segments -------------------------------------------------------------
    def for_segment(self, tup: ExecutionTuple) -> Executor | None:
        """This executor's share of the test in one segment (a scaled copy), or None when the
        segment gets no work from it (k6's HasWork). Scaling happens once, after validation,
        on the unscaled options, so every instance computes its share from the same numbers."""
        if tup.is_full:
            return self
        return self._for_segment(tup)

    def _for_segment(self, tup: ExecutionTuple) -> Executor | None:
        raise NotImplementedError

    def _scaled(self, tup: ExecutionTuple, numbering: ExecutionTuple | None = None,
                **changes: Any) -> Executor:
        copy = dataclasses.replace(self, **changes)
        copy.segment = tup
        copy.iteration_tuple = numbering or tup
        return copy

    # -- derived values -----------------------------------------------------------------
    @property
    def start_time_ns(self) -> int:
        return parse_duration(self.start_time, what="start_time")

    @property
    def graceful_stop_ns(self) -> int:
        return parse_duration(self.graceful_stop, what="graceful_stop")

    def duration_ns(self) -> int:
        """The executor's own length (without graceful stop)."""
        raise NotImplementedError

    def peak_vus(self) -> int:
        raise NotImplementedError

    def total_ns(self) -> int:
        """start_time + duration + graceful stop: the banner's 'max duration'."""
        return self.start_time_ns + self.duration_ns() + self.graceful_stop_ns

    def describe(self) -> str:
        """One banner line, k6's wording (k6-compat.md §4.2)."""
        raise NotImplementedError

    def base_info(self, *extra: str) -> str:
        parts = list(extra)
        if self.start_time_ns:
            parts.append(f"startTime: {format_duration(self.start_time_ns)}")
        parts.append(f"gracefulStop: {format_duration(self.graceful_stop_ns)}")
        return f" ({', '.join(parts)})"

    async def run(self, ctx: ExecContext, start_ns: int) -> None:
        """Drive iterations from `start_ns` (absolute clock time) until this executor ends."""
        raise NotImplementedError


class TaskSet:
    """Running tasks of one executor, with k6's stop window: finish, then interrupt."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.error: BaseException | None = None

    async def __aenter__(self) -> TaskSet:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Leaving by an exception (the engine cancelling an executor on abort) interrupts
        every iteration still running, so nothing outlives its executor."""
        if exc_type is not None and self.tasks:
            await self.interrupt()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not self.tasks:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None and self.error is None:
            # Iteration errors are handled inside ctx.iteration; anything here is a bug of
            # ours, kept and re-raised by finish() so it is never lost.
            self.error = task.exception()

    async def wait_until(self, deadline_ns: int) -> bool:
        """Wait for every task to finish or for the deadline. True if all finished."""
        if not self.tasks:
            return True
        await wait_first(self.clock, deadline_ns, self._idle.wait())
        return not self.tasks

    async def interrupt(self, tasks: Iterable[asyncio.Task[Any]] | None = None) -> None:
        """Cancel (interrupt) tasks and wait until they are gone."""
        victims = list(self.tasks if tasks is None else tasks)
        for t in victims:
            t.cancel()
        if victims:
            await asyncio.gather(*victims, return_exceptions=True)

    async def finish(self, deadline_ns: int) -> None:
        """Let running work finish until the deadline, then interrupt what is left."""
        if not await self.wait_until(deadline_ns):
            await self.interrupt()
        if self.error is not None:
            raise self.error
