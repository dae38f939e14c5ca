"""The progress display tells how each scenario really ended, and prints its last frame once.

Runs the engine on the fake clock with Progress writing to a (non-TTY) StringIO."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from fakes import Harness

from loadgen import ConstantVUs, Scenario, SharedIterations
from loadgen.errors import ExitCode
from loadgen.execution.engine import Engine, Hooks, ScenarioSpec
from loadgen.execution.progress import Progress


class Sleeper(Scenario):
    async def iteration(self, vu: Any) -> None:
        await vu.sleep(1)


class Aborter(Scenario):
    async def iteration(self, vu: Any) -> None:
        await vu.sleep(1)
        if vu.iteration == 3:
            vu.abort("enough")


def frames(text: str) -> list[str]:
    return [f for f in text.split("\n\n") if f.startswith("running (")]


async def run_with_progress(*specs: tuple[type, Any], stop_after_s: float | None = None
                            ) -> tuple[str, int]:
    h = Harness()
    out = io.StringIO()
    progress = Progress(out, plain_every=10)

    engine = Engine(h.run_ctx, [ScenarioSpec(cls.scenario_name(), cls, ex,
                                             base_url="http://127.0.0.1:9") for cls, ex in specs],
                    Hooks(progress=progress, ingest=h.records.extend))

    async def main() -> int:
        run = asyncio.ensure_future(engine.execute())
        if stop_after_s is not None:
            await h.clock.sleep(stop_after_s)
            engine.stop("interrupted by signal", ExitCode.EXTERNAL_ABORT)
        return (await run).exit_code

    code = await h.clock.run(main())
    return out.getvalue(), code


async def test_the_final_frame_is_printed_once() -> None:
    """A 30 s scenario: frames at 10 s and 20 s, then the final one; the tick at 30 s, with
    everything already done, printed the same frame again (seen in `make demo`)."""
    text, code = await run_with_progress((Sleeper, ConstantVUs(vus=1, duration="30s")))
    assert code == 0
    got = frames(text)
    assert [f.splitlines()[0][:16] for f in got] == [
        "running (010.0s)", "running (020.0s)", "running (030.0s)"], text
    assert "sleeper ✓ [100%] 0/1 VUs  30s/30s  30 iters" in got[-1]


async def test_a_scenario_that_ran_out_of_iterations_shows_when_it_ended() -> None:
    text, _ = await run_with_progress(
        (Sleeper, SharedIterations(vus=1, iterations=3, max_duration="10s")))
    last = frames(text)[-1]
    assert "sleeper ✓ [ 30%] 0/1 VUs  3s/10s  3 iters" in last, last
    assert last.rstrip().endswith("ended at 3s"), last


async def test_an_aborted_scenario_is_not_shown_complete() -> None:
    text, code = await run_with_progress((Aborter, ConstantVUs(vus=1, duration="10s")),
                                         (Sleeper, ConstantVUs(vus=1, duration="10s")))
    assert code == ExitCode.SCRIPT_ABORTED
    last = frames(text)[-1]
    assert "aborter ✗ [ 40%]" in last and "4s/10s" in last and "aborted at 4s" in last, last
    assert "sleeper ✗ [ 40%]" in last and "aborted at 4s" in last, last
    assert "100%" not in last


async def test_a_stopped_run_says_stopped_with_its_own_share() -> None:
    text, code = await run_with_progress((Sleeper, ConstantVUs(vus=1, duration="20s")),
                                         stop_after_s=5)
    assert code == ExitCode.EXTERNAL_ABORT
    last = frames(text)[-1]
    assert "sleeper ✗ [ 25%]" in last and "5s/20s" in last and "stopped at 5s" in last, last


async def test_no_frame_just_before_the_final_one() -> None:
    """A schedule that ends between two ticks (or a tick that fires a hair before the end,
    as on a loaded machine): the frame half a second before the final one is the final
    one again, with a scenario at 99%."""
    text, _ = await run_with_progress((Sleeper, ConstantVUs(vus=1, duration=20.4)))
    got = frames(text)
    assert [f.splitlines()[0][:16] for f in got] == [
        "running (010.0s)", "running (021.0s)"], text  # the last sleep(1) ends at 21 s
