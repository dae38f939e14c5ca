"""`--duration` alone on designed scenarios: the same design, shorter (or longer).

A user who runs `loadgen run conversation_stress.py --duration 30s` wants the designed ~200
requests/s for 30 s, not k6's answer (the CLI shortcut replaces every scenario with one
looping VU, which ran that file at 1,947 req/s). So every explicit executor is kept with
its rates and VU counts, and the file's timeline (start times, durations, ramping stages) is
scaled by one factor so that the last time-based scenario ends at the new duration; the
order and overlap of scenarios are kept. Iteration-based executors keep their iterations and
get the new duration as their `max_duration` cap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from loadgen.executors import (
    ConstantArrivalRate,
    ConstantVUs,
    Executor,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    SharedIterations,
)
from loadgen.options import Stage, format_duration

MS = 1_000_000
TIMED = (ConstantVUs, ConstantArrivalRate, RampingVUs, RampingArrivalRate)


def design_end_ns(executors: list[Executor]) -> int:
    """When the designed timeline ends: the latest start + duration of a time-based executor
    (0 when there is none); executors that do not validate are left out (they are reported)."""
    ends = [ex.start_time_ns + ex.duration_ns() for ex in executors
            if isinstance(ex, TIMED) and not ex.validate()]
    return max(ends, default=0)


def _ms(ns: float) -> int:
    """Rounded to the millisecond, so banners read `7.5s`, not `7.49999s`."""
    return round(ns / MS) * MS


def scale_executor(ex: Executor, factor: float | None, new_ns: int) -> Executor:
    """A copy of `ex` on a timeline scaled by `factor` (None: no time-based scenario to scale
    by; only iteration caps change). Durations are k6 strings, so the banner shows them."""
    if isinstance(ex, SharedIterations | PerVUIterations):
        start = ex.start_time if factor is None else format_duration(
            _ms(ex.start_time_ns * factor))
        return dataclasses.replace(ex, start_time=start, max_duration=format_duration(new_ns))
    if factor is None or not isinstance(ex, TIMED):
        return dataclasses.replace(ex)
    start = _ms(ex.start_time_ns * factor)
    if isinstance(ex, ConstantVUs | ConstantArrivalRate):
        end = _ms((ex.start_time_ns + ex.duration_ns()) * factor)
        return dataclasses.replace(ex, start_time=format_duration(start),
                                   duration=format_duration(end - start))
    stages, at, prev = [], ex.start_time_ns, start
    for st in ex.parsed_stages:
        at += st.duration_ns
        boundary = _ms(at * factor)
        stages.append(Stage(format_duration(boundary - prev), st.target))
        prev = boundary
    return dataclasses.replace(ex, start_time=format_duration(start), stages=stages)


def chained_end_ns(executors: dict[str, Executor], after: Mapping[str, str]) -> int:
    """design_end_ns when scenarios start after others (start_after): a follower's timeline
    begins where its time-based predecessor's ends (an iteration-based one's end is not
    known in advance: it counts as 0)."""
    own = {n: ex.start_time_ns + ex.duration_ns() if isinstance(ex, TIMED) and not
           ex.validate() else 0 for n, ex in executors.items()}
    ends: dict[str, int] = {}
    for name in executors:
        chain = [name]
        while (prev := after.get(chain[-1])) in executors and prev not in ends and (
                prev not in chain):
            chain.append(prev)
        for n in reversed(chain):
            prev = after.get(n)
            ends[n] = own[n] + (ends.get(prev, 0) if prev is not None else 0)
    return max((ends[n] for n, ex in executors.items() if isinstance(ex, TIMED)), default=0)


def scale_all(executors: dict[str, Executor], new_ns: int,
              after: Mapping[str, str] | None = None) -> tuple[dict[str, Executor], str]:
    """Every executor scaled to end by `new_ns` (a start_after chain as a whole), and the
    banner line that says so."""
    end = (chained_end_ns(executors, after) if after
           else design_end_ns(list(executors.values())))
    factor = new_ns / end if end else None
    scaled = {name: scale_executor(ex, factor, new_ns) if not ex.validate() else ex
              for name, ex in executors.items()}
    new = format_duration(new_ns)
    if factor is None:
        note = (f"--duration {new}: the scenarios keep their executors; {new} caps their "
                "iterations (max_duration)")
    else:
        note = (f"--duration {new}: the scenarios keep their executors and rates, their "
                f"timeline scaled from {format_duration(end)} to {new} (x{factor:.3g})")
    return scaled, note
