"""The event runner: each event once at its offset, events at one offset together, every
wait bounded by the event's timeout, a stop cancelling what runs and recording what never
ran. Scheduling runs on the fake clock (no real sleeps); the shell and HTTP kinds run for
real against a shell and a loopback server the test starts."""

from __future__ import annotations

import os
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from servers import serve

from loadgen import At, Call, ConstantVUs, HttpCall, Scenario, Shell
from loadgen.clock import FakeClock, RealClock
from loadgen.events.model import EventOutcome
from loadgen.events.plan import plan_events
from loadgen.events.runner import EventRunner
from loadgen.execution.engine import ScenarioSpec

sys.path.insert(0, str(Path(__file__).parents[1] / "net"))  # the loopback TLS server
from net_helpers import make_cert, start_app  # noqa: E402

S = 1_000_000_000


def planned(events: list[Any], base_url: str | None = None) -> list[Any]:
    class Sc(Scenario):
        pass

    Sc.events = events
    spec = ScenarioSpec("s", Sc, ConstantVUs(vus=1, duration="1m"), base_url=base_url)
    return plan_events([spec]).events


async def run_events(clock: Any, events: list[Any], stop_at_s: float | None = None,
                     base_url: str | None = None, insecure: bool = False,
                     ) -> dict[str, EventOutcome]:
    """Run the events until all have ended, or stop the runner at `stop_at_s`."""
    seen: list[EventOutcome] = []
    plan = planned(events, base_url)
    runner = EventRunner(plan, clock, dict(os.environ), seen.append, insecure=insecure)

    async def body() -> None:
        runner.begin(clock.now_ns())
        deadline = clock.now_ns() + round((stop_at_s or 60) * S)
        while len(runner.outcomes) < len(plan) and clock.now_ns() < deadline:
            await clock.sleep(0.02)
        if stop_at_s is not None:
            runner.stop("interrupted by signal")
        await runner.close()

    await (clock.run(body()) if isinstance(clock, FakeClock) else body())
    assert seen == runner.outcomes  # every outcome reached the live hook (NDJSON)
    return {o.event.name: o for o in runner.outcomes}


async def test_events_start_at_their_offsets_and_share_an_offset_concurrently() -> None:
    clock = FakeClock()
    starts: dict[str, int] = {}

    async def hold(name: str, seconds: float) -> str:
        starts[name] = clock.now_ns()
        await clock.sleep(seconds)
        return name

    out = await run_events(clock, [At("1s", Call(hold, "a", 2), name="a"),
                                   At("1s", Call(hold, "b", 2), name="b"),
                                   At("3s", Call(hold, "c", 0.5), name="c")])
    assert starts == {"a": 1 * S, "b": 1 * S, "c": 3 * S}  # a and b together, not in turn
    assert [(o.started_s, o.duration_s, o.ok, o.output_tail) for o in out.values()] == [
        (1.0, 2.0, True, "'a'"), (1.0, 2.0, True, "'b'"), (3.0, 0.5, True, "'c'")]


async def test_a_call_past_its_timeout_is_cancelled_and_recorded() -> None:
    clock = FakeClock()
    cancelled = []

    async def stuck() -> None:
        try:
            await clock.sleep(3600)
        finally:
            cancelled.append(clock.now_ns())

    async def boom() -> None:
        raise RuntimeError("the admin API said no")

    out = await run_events(clock, [At("1s", Call(stuck), timeout="2s"), At("1s", Call(boom))])
    assert cancelled == [3 * S]
    o = out["stuck"]
    assert (o.ok, o.status, o.duration_s) == (False, None, 2.0)
    assert "timed out after 2 s" in o.output_tail
    assert not out["boom"].ok and "RuntimeError: the admin API said no" in out["boom"].output_tail


async def test_a_stop_cancels_running_events_and_records_those_never_run() -> None:
    clock = FakeClock()

    async def long() -> None:
        await clock.sleep(60)

    out = await run_events(clock, [At("1s", Call(long)), At("5s", Call(long), name="later")],
                           stop_at_s=1.5)
    assert out["long"].duration_s == 0.5 and not out["long"].ok
    assert "cancelled: interrupted by signal" in out["long"].output_tail
    later = out["later"]
    assert (later.started_s, later.ok) == (None, False)
    assert later.output_tail == "not run: interrupted by signal before its offset 5s"
    assert later.to_json()["at_s"] == 5.0


async def test_a_shell_runs_its_output_tail_is_bounded_and_its_status_kept(tmp_path: Path,
                                                                           ) -> None:
    marker = tmp_path / "ran"
    out = await run_events(RealClock(), [
        At(0, Shell(f"echo hello > {marker}; echo done"), name="first"),
        At(0, Shell("head -c 100000 /dev/zero | tr '\\0' x; echo END; exit 3"), name="big")],
        stop_at_s=2)
    first = out["first"]
    assert marker.read_text() == "hello\n" and first.ok and first.status == 0
    assert first.output_tail == "done\n"
    big = out["big"]
    assert (big.ok, big.status) == (False, 3)
    assert len(big.output_tail.encode()) == 2048 and big.output_tail.endswith("xxEND\n")


async def test_a_hanging_shell_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    t0 = time.monotonic()
    out = await run_events(RealClock(), [At(0, Shell(
        f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; echo waiting; wait"),
        name="hang", timeout="500ms")], stop_at_s=3)
    assert time.monotonic() - t0 < 2.5  # the stop at 3 s was not needed: the timeout won
    hang = out["hang"]
    assert not hang.ok and 0.5 <= hang.duration_s < 1.5
    assert "waiting" in hang.output_tail and "timed out after 0.5 s" in hang.output_tail
    assert "process group was killed" in hang.output_tail
    for pid in map(int, pids.read_text().split()):  # the shell and its background child
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


async def test_http_calls_use_their_own_session_and_resolve_relative_urls() -> None:
    with serve() as base:
        out = await run_events(RealClock(), [
            At(0, HttpCall("POST", "/echo", json={"fault": "on"}), name="post"),
            At(0, HttpCall("GET", "status/503"), name="503"),
            At(0, HttpCall("GET", f"{base}/status/503", expect=[503]), name="expected"),
            At(0, HttpCall("GET", "/delay/3000", timeout="300ms"), name="slow")],
            stop_at_s=2, base_url=base)
    post = out["post"]
    assert (post.ok, post.status) == (True, 200)
    assert '"len": 15' in post.output_tail and "application/json" in post.output_tail
    assert (out["503"].ok, out["503"].status) == (False, 503)
    assert (out["expected"].ok, out["expected"].status) == (True, 503)
    assert not out["slow"].ok and "timed out after 0.3 s" in out["slow"].output_tail


async def test_an_http_call_to_a_closed_port_is_a_failed_event_not_an_error() -> None:
    out = await run_events(RealClock(), [At(0, HttpCall("GET", "http://127.0.0.1:9/x"))],
                           stop_at_s=2)
    o = out["GET http://127.0.0.1:9/x"]
    assert (o.ok, o.status) == (False, None) and "Connect" in o.output_tail


async def test_kill_now_kills_running_shells_without_the_loop(tmp_path: Path) -> None:
    """The hard exit (a second Ctrl-C) has no loop turn left: the shells' groups are killed
    synchronously, or they would outlive loadgen in their own sessions."""
    pids = tmp_path / "pids"
    clock = RealClock()
    runner = EventRunner(planned([At(0, Shell(f"sleep 60 & echo $! > {pids}; wait"),
                                     name="long")]), clock, dict(os.environ))
    runner.begin(clock.now_ns())
    for _ in range(200):
        if pids.exists() and pids.read_text().strip() and runner.live_groups:
            break
        await clock.sleep(0.01)
    child = int(pids.read_text())
    runner.kill_now()
    for _ in range(200):  # no stop was asked for: the shell's own end is what is recorded
        if runner.outcomes:
            break
        await clock.sleep(0.01)
    (o,) = await runner.close()
    assert o.status == -9 and not o.ok  # the shell itself died of SIGKILL
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"


async def test_an_https_call_verifies_the_certificate_unless_told_not_to(tmp_path: Path,
                                                                         ) -> None:
    cert, key = make_cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    runner, port = await start_app(ctx)
    try:
        events = [At(0, HttpCall("GET", f"https://127.0.0.1:{port}/cookies"), name="tls")]
        strict = (await run_events(RealClock(), events, stop_at_s=5))["tls"]
        loose = (await run_events(RealClock(), events, stop_at_s=5, insecure=True))["tls"]
    finally:
        await runner.cleanup()
    assert not strict.ok and "certificate verify failed" in strict.output_tail
    assert (loose.ok, loose.status) == (True, 200)
