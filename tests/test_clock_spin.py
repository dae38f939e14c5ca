"""RealClock at 10,000 starts/s: every gap is within SPIN_NS, and the spin that finishes a
wait must not eat the whole core (the generator's own saturation watch then cries wolf and
the target, if it shares the core, is starved); no wait may ever end early."""

from __future__ import annotations

import asyncio
import time

from loadgen.clock import RealClock

GAP_NS = 100_000  # 10,000 starts/s
STARTS = 3_000  # 0.3 s of schedule


async def test_a_10k_per_second_schedule_spins_at_most_a_share_of_the_core():
    clock = RealClock()
    loop = asyncio.get_running_loop()
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
    cpu = time.process_time() - cpu0
    assert early == 0
    assert wall < 5, "the schedule ran far behind"
    assert loop.is_running()
    # spinning is capped at a quarter of the wall time; the rest of a wait sleeps on a timer
    assert cpu / wall < 0.45, f"CPU {cpu:.3f} s over {wall:.3f} s of waiting"
    late_ns.sort()
    assert late_ns[len(late_ns) // 2] < 3_000_000  # the median start is within a tick
