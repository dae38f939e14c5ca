"""Code a scenario calls (the delivery tracker) finds its VU through a context variable,
set only when the task's value is not already that VU: every executor shape must still
give each iteration its own VU."""

from __future__ import annotations

from fakes import Harness

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario
from loadgen.scripting.context import current_vu

SEEN: list[bool] = []


class Who(Scenario):
    async def iteration(self, vu):
        SEEN.append(current_vu.get() is vu)
        await vu.sleep(0.05)
        SEEN.append(current_vu.get() is vu)  # still this VU after others ran meanwhile


async def test_looping_vus_each_see_their_own_vu_every_iteration():
    SEEN.clear()
    await Harness().run((Who, ConstantVUs(vus=3, duration="1s")))
    assert len(SEEN) > 100 and all(SEEN)


async def test_arrivals_on_reused_vus_each_see_the_vu_they_run_on():
    SEEN.clear()
    await Harness().run((Who, ConstantArrivalRate(rate=50, duration="1s", pre_allocated_vus=4,
                                                  max_vus=8)))
    assert len(SEEN) > 50 and all(SEEN)
