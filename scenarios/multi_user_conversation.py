"""Multi-user conversations: 100 users, each in conversations of 10 participants, 100
messages per conversation, and not one message shown in a conversation it was not sent to.

What it proves: fan-out respects membership. Every user holds a WebSocket and owns one
conversation with the next 9 users (a ring, so every user is in exactly 10 conversations and
receives 10 x 100 = 1,000 frames). Each receiver checks every frame: its conversation must
be one the user belongs to, and the message must have been sent to that very conversation;
anything else counts in `cross_conversation_leaks`, which must stay 0. Every copy is also
delivery-tracked (`client_msg_id:recipient`), so a missing copy is a lost message.

    loadgen run scenarios/multi_user_conversation.py \\
        --thresholds thresholds/multi_user_conversation.yaml
    loadgen run scenarios/multi_user_conversation.py --vus 10 --duration 10s \\
        --thresholds thresholds/multi_user_conversation.yaml

`--vus` sets the number of users (conversations shrink to the users there are), `--duration`
bounds the run and paces the messages to fit in it.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, ClassVar

from common import (
    DEFAULT_BASE_URL,
    Sockets,
    Tracked,
    auth,
    copy_id,
    create_conversation,
    frame_of,
    login_many,
    new_id,
    post_message,
    setup_vu,
    username,
)

from loadgen import Counter, PerVUIterations, Shape
from loadgen.options import parse_duration
from loadgen.testtypes import TestType

cross_conversation_leaks = Counter("cross_conversation_leaks")

SENT_TO: dict[str, str] = {}  # client_msg_id -> the conversation it was posted to
_connected = 0
_all_connected = asyncio.Event()
_slots = itertools.count()


class MultiUserConversation(Tracked, Sockets, TestType):
    kind = "conversations"
    default_base_url = DEFAULT_BASE_URL
    weight = 0.0
    delivery_grace = 5.0
    users: ClassVar[int] = 100
    participants: ClassVar[int] = 10
    messages: ClassVar[int] = 100  # per conversation
    message_interval: ClassVar[float] = 0.5  # seconds between one user's messages
    max_duration: ClassVar[str] = "10m"

    @classmethod
    def shape(cls, o: Any) -> Shape:
        """One iteration per user. `--duration` bounds the run; the messages then take at most
        60 % of it, leaving time to connect before and to drain after."""
        n = o.vus or cls.users
        cls._run_users = n
        cls._run_interval = cls.message_interval
        if o.duration:
            fit = 0.6 * parse_duration(o.duration) / 1e9 / cls.messages
            cls._run_interval = min(cls.message_interval, fit)
        return Shape(PerVUIterations(vus=n, iterations=1,
                                     max_duration=o.duration or cls.max_duration))

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        cls = type(self)
        n = getattr(cls, "_run_users", cls.users)
        p = min(cls.participants, n)
        users = [username("member", i) for i in range(n)]
        tokens = await login_many(vu, users)
        sem = asyncio.Semaphore(20)

        async def create(i: int) -> tuple[str, list[str]]:
            members = [users[(i + k) % n] for k in range(p)]
            async with sem:
                conv = await create_conversation(vu, tokens[members[0]], members[1:],
                                                 f"ring {i}", strict=True)
            assert conv is not None
            return conv["id"], members

        convs = await asyncio.gather(*(create(i) for i in range(n)))
        mine: dict[str, set[str]] = {u: set() for u in users}
        for cid, members in convs:
            for u in members:
                mine[u].add(cid)
        # setup data must be JSON-shaped (it is part of the summary): lists, not sets
        return {"users": [(u, tokens[u], convs[i][0], convs[i][1], sorted(mine[u]))
                          for i, u in enumerate(users)],
                "expected": p * cls.messages}

    async def iteration(self, vu: Any) -> None:
        global _connected
        user, token, own_conv, own_members, convs = self.data["users"][next(_slots)]
        my_convs = set(convs)
        expected = self.data["expected"]
        received = 0
        done = asyncio.Event()

        def on_message(msg: str | bytes) -> None:
            nonlocal received
            frame = frame_of(msg)
            if frame is None or frame.get("type") != "message":
                return
            conv, cmid = frame.get("conversation_id"), str(frame.get("client_msg_id"))
            if conv not in my_convs or SENT_TO.get(cmid, conv) != conv:
                cross_conversation_leaks.add(1)
            vu.track.received(copy_id(cmid, user))
            received += 1
            if received >= expected:
                done.set()

        async with await vu.ws.connect("/v1/ws", headers=auth(token)) as session:
            reader = asyncio.ensure_future(session.hold(on_message=on_message, ping_every=10.0))
            try:
                _connected += 1
                if _connected >= len(self.data["users"]):
                    _all_connected.set()
                async with asyncio.timeout(30.0):  # everyone listens before anyone talks
                    await _all_connected.wait()
                await self.talk(vu, token, own_conv, own_members)
                try:  # stay until every message of every conversation of mine arrived
                    async with asyncio.timeout(30.0):
                        await done.wait()
                except TimeoutError:
                    pass  # the tracker reports what is missing as lost
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def talk(self, vu: Any, token: str, conv: str, members: list[str]) -> None:
        interval = getattr(type(self), "_run_interval", self.message_interval)
        headers = auth(token)
        for k in range(type(self).messages):
            cmid = new_id("ring")
            SENT_TO[cmid] = conv
            await post_message(vu, headers, conv, cmid, f"message {k} in {conv}",
                               recipients=members)
            await vu.sleep(interval)
