"""What one idle VU costs (the VU, its meter, HTTP client, pool, scenario instance and the
task of its sleep loop): 100,000 sleeping VUs must fit in 1 GB of RSS (measured with
benchmarks/bench_http.py --memory-vus 1000,100000: 340-600 MB). Counted with tracemalloc
on 2,000 VUs, which is deterministic for a given Python, unlike RSS."""

from __future__ import annotations

import gc
import tracemalloc

from fakes import Harness

from loadgen import ConstantVUs, Scenario

VUS = 2_000
PER_VU_BUDGET = 8_000  # bytes; 100,000 VUs x 8 KB = 800 MB, the rest of the GB for the run


MEASURED: list[int] = []


class Sleeper(Scenario):
    async def iteration(self, vu):
        if vu.id == 1 and vu.iteration == 0:
            await vu.sleep(0.5)  # by then every VU is made and asleep in its first iteration
            MEASURED.append(tracemalloc.get_traced_memory()[0])
            return
        await vu.sleep(1)


async def test_an_idle_vu_costs_under_8_kb():
    MEASURED.clear()
    h = Harness()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await h.run((Sleeper, ConstantVUs(vus=VUS, duration="1s")))
    finally:
        tracemalloc.stop()
    per_vu = (MEASURED[0] - before) / VUS
    assert per_vu < PER_VU_BUDGET, f"{per_vu:.0f} bytes per idle VU"
