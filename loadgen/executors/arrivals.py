"""The open model shared by both arrival-rate executors: start iterations at intended times.

Intended start times are absolute offsets computed from the schedule (no drift). Each
iteration is handed its intended time, so the context records the schedule lag and the
latency from the intended start (no coordinated omission). When no VU is free and the pool
is at max_vus, the iteration is dropped (k6's dropped_iterations). Unlike k6, a VU below
max_vus is initialised on the spot rather than in the background: a coroutine VU is cheap,
and dropping work while a VU initialises would be a measurement artefact.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any

from loadgen.execution.segments import ExecutionTuple
from loadgen.executors.base import ExecContext, Executor
from loadgen.executors.workers import Workers

log = logging.getLogger("loadgen")


def validate_pool(ex: Any, problems: list[str]) -> None:
    """pre_allocated_vus (required) and max_vus (>= pre_allocated_vus) of an arrival executor."""
    pre = ex._int("pre_allocated_vus", problems, minimum=0, required=True)
    if ex.max_vus is not None:
        mx = ex._int("max_vus", problems, minimum=0)
        if mx and mx < pre:
            problems.append(
                f"max_vus ({mx}) must be greater than or equal to pre_allocated_vus ({pre})")
    if ex.pre_allocated_vus == 0 and not ex.max_vus:
        problems.append("pre_allocated_vus or max_vus must be more than 0")


def pool_for(rate_per_s: float, vus: int | None = None,
             max_vus: int | None = None) -> tuple[int, int]:
    """(pre_allocated_vus, max_vus) for an open-model rate when the user named none: a tenth
    of a second's worth ready, room for two seconds' worth (a stalled target then shows as
    latency before iterations are dropped). VUs are coroutines: a few KB each."""
    pre = vus if vus is not None else max(1, min(math.ceil(rate_per_s / 10), 1000))
    peak = max_vus if max_vus is not None else max(pre, 100, 2 * math.ceil(rate_per_s))
    return pre, max(peak, pre)


def striped(offsets: Iterable[int], stripe: ExecutionTuple) -> Iterator[tuple[int, int]]:
    """(test-wide index, offset) of the starts this instance owns: the whole test's
    schedule, thinned to this segment's stripes, so the instances' starts together are the
    unsplit schedule exactly (no per-instance rate, no drift between instances)."""
    if stripe.is_full:
        yield from enumerate(offsets)
        return
    for k, off in enumerate(offsets):
        if stripe.owns(k):
            yield k, off


def arrival_share(ex: Any, tup: ExecutionTuple) -> Executor | None:
    """An arrival-rate executor's share (k6): pre-allocated and max VUs striped, starts
    striped along the split of max VUs (k6 re-cuts the sequence by max VUs)."""
    pre = int(ex.pre_allocated_vus or 0)
    peak = int(ex.peak_vus())
    by_vus = tup.for_value(peak)
    if tup.scale(peak) == 0 or by_vus is None:
        return None
    scaled: Executor = ex._scaled(tup, by_vus, pre_allocated_vus=tup.scale(pre),
                                  max_vus=tup.scale(peak))
    return scaled


def pool_info(pre: int, peak: int) -> str:
    return f"maxVUs: {peak}" if pre == peak else f"maxVUs: {pre}-{peak}"


async def run_arrivals(
    ctx: ExecContext,
    start_ns: int,
    starts: Iterable[tuple[int, int]],
    end_ns: int,
    pre_allocated: int,
    max_vus: int,
    graceful_stop_ns: int,
) -> None:
    clock = ctx.clock
    now_ns = clock.now_ns
    sleep_until = clock.sleep_until
    workers = Workers(ctx, clock)
    for _ in range(pre_allocated):
        workers.add(ctx.new_vu())
    ctx.allocated = pre_allocated
    warned = False
    try:
        for index, off in starts:
            t = start_ns + off
            if t >= end_ns:
                break
            now = now_ns()
            if t > now:
                await sleep_until(t)
            elif now < end_ns:
                # Late (the loop was busy or paused): let it run once per start, or a backlog
                # of thousands is spawned before any iteration can finish and hand its VU
                # back, each taking a new VU that opens a new connection, which made the
                # run later still: at 8,000 GET/s on a loaded core, 1/3 of the iterations
                # ran and the rest were dropped at max_vus; with the yield, all ran. Past
                # the end, what is still owed starts at once (the graceful stop then
                # interrupts it): yielding there let blocking iterations stretch the
                # schedule's tail far beyond end + graceful_stop.
                await asyncio.sleep(0)
            if workers.start(t, index):
                continue
            if ctx.allocated < max_vus:
                workers.add(ctx.new_vu())
                ctx.allocated += 1
                workers.start(t, index)
                continue
            ctx.dropped(1)
            if not warned:
                warned = True
                log.warning(
                    "Insufficient VUs, reached %d active VUs and cannot initialize more "
                    "(scenario %s); iterations are being dropped", ctx.allocated, ctx.name)
        await sleep_until(end_ns)
        await workers.finish(end_ns + graceful_stop_ns)
    except BaseException:
        # leaving early (the engine cancelling executors on a stop or an abort): nothing
        # outlives its executor, a running iteration counts itself interrupted
        await workers.stop()
        raise
