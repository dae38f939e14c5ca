"""Scenario files the fleet tests (local workers, TCP workers and pods, Ray actors) share:
one that fails a threshold with abortOnFail, and one whose chosen VU kills or stalls its
own worker process mid-run."""

from __future__ import annotations

SIGKILL_SELF = "os.kill(os.getpid(), signal.SIGKILL)"


def abort_scenario(vus: int = 2, duration: str = "20s") -> str:
    """Every request fails, so `http_req_failed rate<0.5` aborts the run at its first check."""
    return f"""
from loadgen import ConstantVUs, Scenario

class A(Scenario):
    executor = ConstantVUs(vus={vus}, duration="{duration}")
    thresholds = {{"http_req_failed": [{{"threshold": "rate<0.5", "abortOnFail": True}}]}}

    async def iteration(self, vu):
        await vu.http.get("/status/500")
        await vu.sleep(0.05)
"""


def kill_scenario(victim: int = 2, how: str = SIGKILL_SELF, duration: str = "20s") -> str:
    """VU `victim` (test-wide id) runs `how` at its 10th iteration: by then the worker has
    sent intervals, so a lost worker's results so far can be checked."""
    return f"""
import os, signal, time
from loadgen import ConstantVUs, Scenario

class K(Scenario):
    executor = ConstantVUs(vus=2, duration="{duration}")

    async def iteration(self, vu):
        await vu.http.get("/")
        await vu.sleep(0.05)
        if vu.id_in_test == {victim} and vu.iteration == 10:
            {how}
"""
