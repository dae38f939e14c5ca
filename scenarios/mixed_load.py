"""Mixed load: 50 persistent WebSockets and 500 HTTP POSTs/s at the same time; 95 % of the
deliveries within 500 ms, and not one socket dropped.

What it proves: the service keeps long-lived sockets healthy (pinged every 10 s, zero
unexpected disconnects) while HTTP traffic runs at full rate, and fan-out stays fast: the
50 socket users sit in 10 group conversations of 5, so every POST is delivered to 5 sockets
(2,500 frames/s at 500 POSTs/s), each copy tracked on its own
(`client_msg_id:recipient`), so a copy missing on one socket is a lost message.

    loadgen run scenarios/mixed_load.py --thresholds thresholds/mixed_load.yaml
    loadgen run scenarios/mixed_load.py --rps 100 --duration 20s \\
        --thresholds thresholds/mixed_load.yaml

`--rps`/`--duration` scale the POSTs; the sockets stay 50 (`HeldSockets`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

from common import (
    DEFAULT_BASE_URL,
    HeldSockets,
    Tracked,
    auth,
    create_conversation,
    frame_of,
    login_many,
    new_id,
    setup_vu,
    username,
)

from loadgen import ConstantArrivalRate, Scenario
from loadgen.net.ws import WSError

GROUP = 5  # socket users per group conversation
SENDERS = [username("poster", i) for i in range(10)]

# group conversation id -> its members whose sockets are open right now
CONNECTED: dict[str, set[str]] = {}
MEMBERS: dict[str, tuple[str, ...]] = {}
_all_connected = asyncio.Event()
_socket_slots = itertools.count()
_sender_slots = itertools.count()


class GroupSockets(Tracked, HeldSockets):
    sockets = 50
    duration = "10m"
    delivery_grace = 5.0

    @classmethod
    def shape(cls, o: Any) -> Any:
        ex = super().shape(o)
        cls._run_sockets = ex.vus
        return ex

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        n = getattr(type(self), "_run_sockets", self.sockets)
        users = [username("member", i) for i in range(n)]
        tokens = await login_many(vu, users)
        groups = [users[i:i + GROUP] for i in range(0, n, GROUP)]
        slots = []
        for g in groups:
            conv = await create_conversation(vu, tokens[g[0]], [*g[1:], *SENDERS], "group",
                                             strict=True)
            assert conv is not None
            MEMBERS[conv["id"]] = tuple(g)
            CONNECTED[conv["id"]] = set()
            slots += [(u, tokens[u], conv["id"]) for u in g]
        return {"slots": slots}

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "slot"):
            slots = self.data["slots"]
            self.slot = slots[next(_socket_slots) % len(slots)]
        user, token, conv = self.slot

        def on_message(msg: str | bytes) -> None:
            frame = frame_of(msg)
            if frame is not None and frame.get("type") == "message":
                vu.track.received(f"{frame.get('client_msg_id')}:{user}")

        try:
            session = await vu.ws.connect("/v1/ws", headers=auth(token))
        except WSError:
            await vu.sleep(1.0)
            return
        async with session:
            CONNECTED[conv].add(user)
            if len(CONNECTED[conv]) == len(MEMBERS[conv]):
                _all_connected.set()
            try:
                await session.hold(ping_every=10.0, on_message=on_message)
            finally:
                CONNECTED[conv].discard(user)


class Posts(Tracked, Scenario):
    executor = ConstantArrivalRate(rate=500, duration="10m", pre_allocated_vus=50, max_vus=1000)
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> dict[str, str]:
        return await login_many(setup_vu(), SENDERS)

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "token"):
            self.token = self.data[SENDERS[next(_sender_slots) % len(SENDERS)]]
        try:
            async with asyncio.timeout(10.0):
                await _all_connected.wait()  # only waits at the very start
        except TimeoutError:
            vu.check(None, {"a group is connected": lambda _: False})
            return
        ready = [c for c, members in MEMBERS.items() if len(CONNECTED[c]) == len(members)]
        if not ready:
            return  # every group has a member reconnecting (counted as a disconnect)
        conv = random.choice(ready)
        cmid = new_id("mx")
        t0 = vu.track.clock.now_ns()
        r = await vu.http.post("/v1/messages", headers=auth(self.token), name="POST /v1/messages",
                               json={"conversation_id": conv, "body": f"hello group {cmid}",
                                     "client_msg_id": cmid})
        if vu.check(r, {"message accepted (202)": lambda r: r.status == 202}):
            for member in MEMBERS[conv]:
                vu.track.sent(f"{cmid}:{member}", t0)
