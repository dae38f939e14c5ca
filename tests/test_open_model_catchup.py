"""An arrival-rate executor that wakes up late (the loop paused) catches up without taking a
new VU per overdue start: iterations that finish meanwhile hand their VUs back. Spawning the
whole backlog first made every overdue start a new VU with a new connection, which made the
run later still (at 8,000 GET/s on a loaded core it ended at max_vus with 2/3 dropped)."""

from __future__ import annotations

from fakes import Harness

from loadgen import ConstantArrivalRate, Scenario

RATE = 1_000
H: list[Harness] = []


class Quick(Scenario):
    async def iteration(self, vu):
        if vu.iteration_in_test == 500:
            H[0].clock.pause(1.0)  # one second's starts (1,000) are overdue at once
        await vu.http.get("/")


async def test_a_backlog_reuses_the_vus_that_finish_while_it_is_worked_off():
    h = Harness(latency=lambda r: 0.0)
    H[:] = [h]
    await h.run((Quick, ConstantArrivalRate(rate=RATE, duration="3s", pre_allocated_vus=5,
                                            max_vus=2_000)))
    rt = h.engine.runtimes[0]
    assert h.count("iterations") == 3 * RATE  # nothing dropped, nothing lost
    assert h.count("dropped_iterations") == 0
    assert rt.allocated < 50, f"{rt.allocated} VUs for a backlog of zero-length iterations"
