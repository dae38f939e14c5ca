"""The long hold, run by hand (skipped unless LOADGEN_WS_SOAK=<seconds> is set):

    LOADGEN_WS_SOAK=120 .venv/bin/python -m pytest tests/ws/test_ws_soak.py -s

50 sockets held with a ping every 5 s while 20 messages/s are posted over HTTP and tracked:
no disconnects, every message delivered, memory flat.
"""

from __future__ import annotations

import os
import resource

import orjson
import pytest
from wshelpers import RealHarness
from wsserver import Hub

from loadgen import ConstantArrivalRate, ConstantVUs
from loadgen.scripting.scenario import Scenario

SECS = int(os.environ.get("LOADGEN_WS_SOAK", "0"))
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not SECS, reason="set LOADGEN_WS_SOAK=<seconds> to run")]


class Holders(Scenario):
    delivery_grace = 2

    async def iteration(self, vu):
        async with await vu.ws.connect("/ws/subscribe") as s:
            await s.hold(ping_every=5,
                         on_message=lambda m: vu.track.received(orjson.loads(m)["id"]))


class Posters(Scenario):
    async def iteration(self, vu):
        mid = f"{vu.id}-{vu.iteration}"
        r = await vu.http.post("/messages", json={"id": mid})
        if r.status == 201:
            vu.track.sent(mid)


async def test_long_hold(hub: Hub, harness: RealHarness):
    hub.push_delay = 0.01
    out = await harness.run(
        (Holders, ConstantVUs(vus=50, duration=f"{SECS + 2}s")),
        (Posters, ConstantArrivalRate(rate=20, duration=f"{SECS}s", start_time="1s",
                                      pre_allocated_vus=10)))
    pings = sorted(harness.values("ws_ping"))
    lat = sorted(harness.values("delivery_latency"))
    print(f"\nsessions={harness.total('ws_sessions'):g} "
          f"unexpected={harness.total('ws_unexpected_disconnects'):g} "
          f"errors={harness.total('ws_errors'):g} pings={len(pings)} "
          f"ping_med={pings[len(pings) // 2]:.2f}ms ping_max={pings[-1]:.2f}ms "
          f"sent={harness.total('messages_sent'):g} "
          f"delivered={harness.total('messages_delivered'):g} "
          f"lost={harness.total('messages_lost'):g} latency_med={lat[len(lat) // 2]:.2f}ms "
          f"latency_max={lat[-1]:.2f}ms "
          f"maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}MB")
    assert out.exit_code == 0
    assert harness.engine.runtimes[0].interrupted == 0
    assert harness.total("ws_unexpected_disconnects") == 0 and harness.total("ws_errors") == 0
    assert harness.total("ws_sessions", close_code="1000") == 50
    assert harness.total("messages_lost") == 0
    assert harness.total("messages_delivered") == harness.total("messages_sent") == 20 * SECS
