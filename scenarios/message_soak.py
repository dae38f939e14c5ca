"""Message soak: 500 messages/s of ~1 KiB (POST /v1/messages) for 30 minutes while 50
WebSocket receivers hold their sockets, every message tracked from POST to delivery.

What it proves: the messaging path keeps its latency (p95 < 100 ms), its error rate
(< 0.1 %) and its promise (zero lost messages, delivered within 5 s: consumer lag measured
end to end by the delivery tracker) for as long as the soak runs.

How: each receiver owns one conversation whose other participants are the 10 sender users,
so every message has exactly one recipient socket and `client_msg_id` identifies it on
arrival. Senders only post to conversations whose receiver is connected right now, so a
reconnecting receiver never turns into "lost" messages the service did not lose.

    loadgen demo-server &                       # or: make demo (does all of this)
    loadgen run scenarios/message_soak.py --thresholds thresholds/message_soak.yaml
    loadgen run scenarios/message_soak.py --rps 500 --duration 30s \\
        --thresholds thresholds/message_soak.yaml
    # the service's own view of the outbox, scraped from /metrics:
    loadgen run scenarios/message_soak.py --rps 500 --duration 30s \\
        --scrape http://127.0.0.1:8000/metrics --thresholds thresholds/message_soak_scrape.yaml

`--rps`/`--duration` scale the senders; the receivers stay 50 sockets (`HeldSockets`).
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

SENDERS = [username("sender", i) for i in range(10)]
BODY_BYTES = 1024

# conversation id -> True while its receiver's socket is open (read by the senders)
READY: dict[str, bool] = {}
_any_ready = asyncio.Event()
_receiver_slots = itertools.count()
_sender_slots = itertools.count()


def body_for(client_msg_id: str) -> str:
    """A ~1 KiB message body that names its message (readable when debugging a loss)."""
    head = f"message {client_msg_id} "
    return head + "x" * max(0, BODY_BYTES - len(head))


class Receivers(Tracked, HeldSockets):
    sockets = 50
    duration = "30m"
    delivery_grace = 5.0  # seconds a message may still arrive after the load before it is lost

    @classmethod
    def shape(cls, o: Any) -> Any:
        ex = super().shape(o)
        cls._run_sockets = ex.vus  # setup() makes exactly one user + conversation per socket
        return ex

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        n = getattr(type(self), "_run_sockets", self.sockets)
        users = [username("receiver", i) for i in range(n)]
        tokens = await login_many(vu, users)
        sem = asyncio.Semaphore(20)

        async def conversation(u: str) -> str:
            async with sem:
                conv = await create_conversation(vu, tokens[u], SENDERS, f"inbox of {u}",
                                                 strict=True)
                assert conv is not None
                return str(conv["id"])

        convs = await asyncio.gather(*(conversation(u) for u in users))
        return {"slots": [(u, tokens[u], c) for u, c in zip(users, convs, strict=True)]}

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "slot"):
            slots = self.data["slots"]
            self.slot = slots[next(_receiver_slots) % len(slots)]
        _user, token, conv = self.slot

        def on_message(msg: str | bytes) -> None:
            frame = frame_of(msg)
            if frame is not None and frame.get("type") == "message":
                vu.track.received(frame.get("client_msg_id"))

        try:
            session = await vu.ws.connect("/v1/ws", headers=auth(token))
        except WSError:
            await vu.sleep(1.0)  # counted in ws_errors; do not spin while the service is down
            return
        async with session:
            READY[conv] = True
            _any_ready.set()
            try:
                await session.hold(ping_every=10.0, on_message=on_message)
            finally:
                READY.pop(conv, None)


class Senders(Tracked, Scenario):
    executor = ConstantArrivalRate(rate=500, duration="30m", pre_allocated_vus=50, max_vus=1000)
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> dict[str, str]:
        return await login_many(setup_vu(), SENDERS)

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "token"):
            self.token = self.data[SENDERS[next(_sender_slots) % len(SENDERS)]]
        if not READY:
            try:  # only at the very start: the receivers connect within milliseconds
                async with asyncio.timeout(10.0):
                    await _any_ready.wait()
            except TimeoutError:
                vu.check(None, {"a receiver is connected": lambda _: False})
                return
            if not READY:
                return
        conv = random.choice(tuple(READY))
        cmid = new_id("m")
        t0 = vu.track.clock.now_ns()
        r = await vu.http.post("/v1/messages", headers=auth(self.token), name="POST /v1/messages",
                               json={"conversation_id": conv, "body": body_for(cmid),
                                     "client_msg_id": cmid})
        if vu.check(r, {"message accepted (202)": lambda r: r.status == 202}):
            vu.track.sent(cmid, t0)
