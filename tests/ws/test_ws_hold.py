"""Long-lived sockets: held for the whole scenario with heartbeats, ended cleanly at the
scenario's end (not interrupted), opened in setup(), beside an arrival-rate HTTP scenario."""

from __future__ import annotations

from wshelpers import RealHarness
from wsserver import Hub

from loadgen import ConstantArrivalRate, ConstantVUs
from loadgen.scripting.context import current_vu
from loadgen.scripting.scenario import Scenario


class Holders(Scenario):
    async def iteration(self, vu):
        async with await vu.ws.connect("/ws/subscribe") as s:
            assert await s.hold(ping_every=0.2)
        vu.check(s, {"held to the end": lambda r: r.close_code == 1000})


class Posters(Scenario):
    async def iteration(self, vu):
        r = await vu.http.post("/messages", json={"id": f"{vu.id}-{vu.iteration}"})
        vu.check(r, {"201": lambda r: r.status == 201})


async def test_sockets_held_with_pings_end_at_duration_beside_http(harness: RealHarness):
    out = await harness.run((Holders, ConstantVUs(vus=3, duration="2s")),
                            (Posters, ConstantArrivalRate(rate=20, duration="2s",
                                                          pre_allocated_vus=4)))
    assert out.exit_code == 0
    holders = harness.engine.runtimes[0]
    assert holders.completed == 3 and holders.interrupted == 0  # ended, not cut off
    assert harness.total("ws_unexpected_disconnects") == 0
    assert harness.total("ws_errors") == 0
    assert harness.total("ws_sessions", close_code="1000") == 3
    pings = harness.values("ws_ping")
    assert len(pings) >= 3 * 8 and max(pings) < 500
    durations = harness.values("ws_session_duration")
    assert all(1900 < d < 2600 for d in durations), durations  # the scenario's 2 s
    assert harness.total("iterations", scenario="posters") == 40
    assert harness.total("checks") == 43  # all passed (a failed check samples 0)


async def test_until_end_and_stopping_follow_the_scenario_end(harness: RealHarness):
    vu = harness.vu()
    assert not vu.ws.stopping  # first use: the scenario's start is estimated from here
    now = harness.clock.now_ns()
    assert 9.9e9 < vu.ws.end_ns - now <= 10e9  # the 10 s executor, estimated from first use
    vu.rt.end_ns = now + 50_000_000  # what the engine publishes once it knows (see report)
    await vu.ws.until_end()
    assert vu.ws.stopping and harness.clock.now_ns() >= vu.rt.end_ns


class SetupSocket(Scenario):
    """One socket opened in setup(), kept alive by a background hold, closed in teardown."""

    async def setup(self):
        import asyncio

        vu = current_vu.get()
        s = await vu.ws.connect("/ws/subscribe")
        return {"session": s, "task": asyncio.ensure_future(s.hold(ping_every=0.2))}

    async def iteration(self, vu):
        assert self.data["session"].open
        await vu.sleep(0.1)

    async def teardown(self, data):
        data["task"].cancel()
        await data["session"].close()


async def test_a_socket_opened_in_setup_lives_until_teardown(harness: RealHarness, hub: Hub):
    out = await harness.run((SetupSocket, ConstantVUs(vus=1, duration="1s")))
    assert out.exit_code == 0
    [(_, dur, tags)] = harness.samples("ws_session_duration")
    assert dur > 1000 and tags["group"] == "::setup" and tags["close_code"] == "1000"
    assert len(harness.values("ws_ping")) >= 4
    assert harness.total("data_sent", group="::setup") > 200  # bytes after setup() counted
    assert harness.total("ws_unexpected_disconnects") == 0


async def test_a_peer_that_stops_answering_pings_is_a_counted_drop(harness: RealHarness):
    vu = harness.vu()
    async with await vu.ws.connect("/ws/mute?hold=0.6") as s:  # no pongs
        end = harness.clock.now_ns() + 2_000_000_000
        assert await s.hold(until_ns=end, ping_every=0.1, ping_timeout=0.2) is False
    assert harness.total("ws_errors", error="ping timeout") == 1
    assert harness.total("ws_unexpected_disconnects", close_code="1006") == 1
    assert harness.clock.now_ns() < end  # gave up at the missed pong, not at the end
