"""Large payloads: 100 messages/s of 64 KiB, every byte checked after the round trip.

What it proves: a 64 KiB message (the demo's largest allowed body) survives the whole path
unchanged: JSON over HTTP into the service, the outbox, and a WebSocket frame out to its
receiver. Each body is a `loadgen.payloads.payload()` carrying its own digest, so the receiver
verifies it without knowing what was sent; any flipped byte counts in
`payload_corruptions`, which must stay 0. Every message is also delivery-tracked, so a body
that never arrives is a lost message rather than a silently skipped check.

    loadgen run scenarios/large_payload.py --thresholds thresholds/large_payload.yaml
    loadgen run scenarios/large_payload.py --rps 20 --duration 10s \\
        --thresholds thresholds/large_payload.yaml

`--rps`/`--duration` scale the senders; the receivers stay 10 sockets (`HeldSockets`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

from common import (
    DEFAULT_BASE_URL,
    HeldSockets,
    Payloads,
    Tracked,
    auth,
    create_conversation,
    frame_of,
    login_many,
    new_id,
    setup_vu,
    username,
)

from loadgen import ConstantArrivalRate, Scenario, payload
from loadgen.net.ws import WSError
from loadgen.payloads import check as check_payload

SIZE = "64KiB"
SENDERS = [username("bulk", i) for i in range(5)]

READY: dict[str, bool] = {}
_any_ready = asyncio.Event()
_receiver_slots = itertools.count()
_sender_slots = itertools.count()
_seq = itertools.count(1)


class Receivers(Tracked, Payloads, HeldSockets):
    sockets = 10
    duration = "10m"
    delivery_grace = 5.0

    @classmethod
    def shape(cls, o: Any) -> Any:
        ex = super().shape(o)
        cls._run_sockets = ex.vus
        return ex

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        users = [username("bulkrecv", i)
                 for i in range(getattr(type(self), "_run_sockets", self.sockets))]
        tokens = await login_many(vu, users)
        slots = []
        for u in users:
            conv = await create_conversation(vu, tokens[u], SENDERS, "bulk", strict=True)
            assert conv is not None
            slots.append((tokens[u], conv["id"]))
        return {"slots": slots}

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "slot"):
            slots = self.data["slots"]
            self.slot = slots[next(_receiver_slots) % len(slots)]
        token, conv = self.slot

        def on_message(msg: str | bytes) -> None:
            frame = frame_of(msg)
            if frame is None or frame.get("type") != "message":
                return
            check_payload(vu, frame.get("body") or "")
            vu.track.received(frame.get("client_msg_id"))

        try:
            session = await vu.ws.connect("/v1/ws", headers=auth(token))
        except WSError:
            await vu.sleep(1.0)
            return
        async with session:
            READY[conv] = True
            _any_ready.set()
            try:
                await session.hold(ping_every=10.0, on_message=on_message)
            finally:
                READY.pop(conv, None)


class Senders(Tracked, Scenario):
    executor = ConstantArrivalRate(rate=100, duration="10m", pre_allocated_vus=20, max_vus=400)
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> dict[str, str]:
        return await login_many(setup_vu(), SENDERS)

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "token"):
            self.token = self.data[SENDERS[next(_sender_slots) % len(SENDERS)]]
        if not READY:
            try:
                async with asyncio.timeout(10.0):
                    await _any_ready.wait()
            except TimeoutError:
                vu.check(None, {"a receiver is connected": lambda _: False})
                return
            if not READY:
                return
        conv = random.choice(tuple(READY))
        cmid = new_id("big")
        body = payload(SIZE, kind="json", seed=7, seq=next(_seq)).decode("ascii")
        t0 = vu.track.clock.now_ns()
        r = await vu.http.post("/v1/messages", headers=auth(self.token), name="POST /v1/messages",
                               json={"conversation_id": conv, "body": body,
                                     "client_msg_id": cmid})
        if vu.check(r, {"64 KiB message accepted (202)": lambda r: r.status == 202}):
            vu.track.sent(cmid, t0)
