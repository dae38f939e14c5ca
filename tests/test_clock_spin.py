"""RealClock at 10,000 starts/s, both ways it can wait: on the loop's timerfd (Linux) every
start is on time to a fraction of a millisecond without spinning; without one, every gap is
within SPIN_NS and the spin that finishes a wait must not eat the whole core (the
generator's own saturation watch then cries wolf and the target, if it shares the core, is
starved). No wait may ever end early either way."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from loadgen import wakeup
from loadgen.clock import RealClock

GAP_NS = 100_000  # 10,000 starts/s
STARTS = 3_000  # 0.3 s of schedule


async def _schedule() -> tuple[int, list[int], float, float]:
    clock = RealClock()
    await asyncio.sleep(0)
    early = 0
    late_ns: list[int] = []
    cpu0, t0 = time.process_time(), time.perf_counter_ns()
    start = t0 + 1_000_000
    for k in range(STARTS):
        due = start + k * GAP_NS
        await clock.sleep_until(due)
        now = clock.now_ns()
        early += now < due
        late_ns.append(now - due)
    wall = (time.perf_counter_ns() - t0) / 1e9
    late_ns.sort()
    return early, late_ns, wall, time.process_time() - cpu0


@pytest.mark.skipif(not wakeup.available(), reason="no timerfd on this platform")
def test_on_the_timerfd_starts_are_on_time_without_spinning():
    # on uvloop, as runs are: a wake costs ~24 us of CPU there (~24% of the core at this
    # rate), ~35-50 us on asyncio's own selector loop
    early, late_ns, wall, cpu = uvloop.run(_schedule())
    assert early == 0
    assert wall < 5, "the schedule ran far behind"
    # the tick-and-spin wait measured 0.6 ms at the median; the timerfd ~0.06 ms
    assert late_ns[len(late_ns) // 2] < 500_000, f"median {late_ns[len(late_ns) // 2]} ns late"
    assert cpu / wall < 0.45, f"CPU {cpu:.3f} s over {wall:.3f} s of waiting"


def test_without_a_timerfd_the_spin_takes_at_most_a_share_of_the_core(monkeypatch):
    monkeypatch.setattr(wakeup, "_LIBC", None)
    early, late_ns, wall, cpu = uvloop.run(_schedule())
    assert early == 0
    assert wall < 5, "the schedule ran far behind"
    # spinning is capped at a quarter of the wall time; the rest of a wait sleeps on a timer
    assert cpu / wall < 0.45, f"CPU {cpu:.3f} s over {wall:.3f} s of waiting"
    assert late_ns[len(late_ns) // 2] < 3_000_000  # the median start is within a tick
