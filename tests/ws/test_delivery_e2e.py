"""Mixed WebSocket + HTTP runs with delivery tracking against a loopback server: every
message delivered with the right latency, and exactly the dropped ones lost."""

from __future__ import annotations

import orjson
import pytest
from wshelpers import RealHarness
from wsserver import Hub

from loadgen import ConstantArrivalRate, ConstantVUs
from loadgen.scripting.scenario import Scenario


class Receivers(Scenario):
    delivery_grace = 0.5

    async def iteration(self, vu):
        async with await vu.ws.connect("/ws/subscribe") as s:
            await s.hold(ping_every=1.0,
                         on_message=lambda m: vu.track.received(orjson.loads(m)["id"]))


class Senders(Scenario):
    async def iteration(self, vu):
        mid = f"{vu.id}-{vu.iteration}"
        r = await vu.http.post("/messages", json={"id": mid})
        if r.status == 201:
            vu.track.sent(mid)


def specs(rate: int) -> list[tuple[type, object]]:
    # the receivers subscribe first and stay a little longer than the senders send
    return [(Receivers, ConstantVUs(vus=2, duration="2.6s")),
            (Senders, ConstantArrivalRate(rate=rate, duration="2s", start_time="0.3s",
                                          pre_allocated_vus=10))]


@pytest.mark.parametrize("push_delay", [0.05, None], ids=["push-after-ack", "push-first"])
async def test_every_message_is_delivered_with_its_latency(hub: Hub, harness: RealHarness,
                                                           push_delay: float | None):
    hub.push_delay = push_delay
    out = await harness.run(*specs(50))
    assert out.exit_code == 0
    assert hub.posted == 100 and hub.pushed == 100
    assert harness.total("messages_sent") == 100
    assert harness.total("messages_delivered") == 100
    assert harness.total("messages_lost") == 0 and harness.total("messages_duplicated") == 0
    lat = sorted(harness.values("delivery_latency"))
    assert len(lat) == 100
    if push_delay:  # the server pushes 50 ms after acking: that is the latency (+ loopback)
        assert 40 < lat[50] < 150 and lat[0] > 30
    else:  # the push beats the ack: matched as early receipts, latency clamped at 0
        assert lat[-1] == 0.0
    tags = {t["scenario"] for _, _, t in harness.samples("delivery_latency")}
    assert tags == {"senders"}  # the sender's tags
    assert harness.total("ws_unexpected_disconnects") == 0


async def test_a_server_dropping_1_in_100_loses_exactly_those(hub: Hub, harness: RealHarness):
    hub.drop_every = 100
    out = await harness.run(*specs(100))
    assert out.exit_code == 0
    assert hub.posted == 200 and len(hub.dropped) == 2
    assert harness.total("messages_sent") == 200
    assert harness.total("messages_lost") == 2
    assert harness.total("messages_delivered") == 198
    assert harness.run_ctx.tracker.counts["lost"] == 2
