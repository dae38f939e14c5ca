"""A stop request (Ctrl-C) while setup() or teardown() is stalled cancels it at once, on the
fake clock: the run does not wait out the stalled request."""

from __future__ import annotations

import pytest
from fakes import Harness

from loadgen import VU, ConstantVUs, Scenario
from loadgen.errors import ExitCode
from loadgen.execution.engine import Hooks

STALL_S = 3600.0


class StalledSetup(Scenario):
    async def setup(self) -> dict[str, int]:
        await self.vu.http.get("/stall")
        return {"never": 1}

    async def iteration(self, vu: VU) -> None:
        await vu.http.get("/")


class StalledTeardown(Scenario):
    async def iteration(self, vu: VU) -> None:
        await vu.http.get("/")
        await vu.sleep(0.1)

    async def teardown(self, data: object) -> None:
        await self.vu.http.get("/stall")


@pytest.mark.parametrize(("cls", "stop_at", "iterations"), [
    (StalledSetup, 1.0, False), (StalledTeardown, 2.0, True)])
async def test_a_stop_cancels_a_stalled_hook_at_once(cls: type, stop_at: float,
                                                     iterations: bool) -> None:
    h = Harness(latency=lambda r: STALL_S if r.url.endswith("/stall") else 0.01)

    async def ctrl_c() -> None:
        await h.clock.sleep(stop_at)
        assert h.engine is not None
        h.engine.stop("interrupted by signal", ExitCode.EXTERNAL_ABORT)

    out = await h.run((cls, ConstantVUs(vus=1, duration="1s")), hooks=Hooks(background=[ctrl_c]))
    assert out.exit_code == ExitCode.EXTERNAL_ABORT
    assert out.duration_ns / 1e9 == pytest.approx(stop_at, abs=0.1)
    assert (h.count("iterations") > 0) is iterations  # no load after an interrupted setup
    assert out.setup_data.get(cls.scenario_name()) is None
