"""The mixed user journey the five classic test shapes (baseline, peak, spike, stress, soak)
put under load. Mixed into a test type:

    class Baseline1000(Journey, Baseline):
        vus, duration, p95_ms = 1000, "15m", 500

One iteration is one visit of one user:
  dashboard   GET /v1/conversations + GET /api/match/top   (every visit)
  create      POST /v1/conversations                       (first visit, then every 5th)
  send        POST /v1/messages to the user's newest conversation  (every visit)
then think time. Each VU is one user: it logs in on its first visit and keeps its token.

Why think time depends on the model: in the closed model (a number of users) think time
is what makes 1,000 users behave like 1,000 people rather than 1,000 tight loops; in the
open model (an arrival rate: stress, or `--rps`) the rate already says how often visits
start, and sleeping would only hold VUs. `THINK_TIME` overrides it: `-e THINK_TIME=0`, or
`-e THINK_TIME=0.5,2` for a range in seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from typing import Any, ClassVar

from common import DEFAULT_BASE_URL, auth, login, new_id, username

from loadgen import ConstantArrivalRate, RampingArrivalRate, Shape
from loadgen.options import parse_duration
from loadgen.testtypes import SteadyPlan

_users = itertools.count()


def think_range(vu: Any, default: tuple[float, float]) -> tuple[float, float]:
    if isinstance(vu.rt.executor, ConstantArrivalRate | RampingArrivalRate):
        default = (0.0, 0.0)
    raw = vu.env.get("THINK_TIME")
    if raw in (None, ""):
        return default
    lo, _, hi = str(raw).partition(",")
    return float(lo), float(hi or lo)


class Journey:
    """Mixin: the user journey as `iteration`, with a per-VU login."""

    default_base_url = DEFAULT_BASE_URL
    think: ClassVar[tuple[float, float]] = (1.0, 3.0)
    create_every: ClassVar[int] = 5  # a new conversation on every 5th visit
    conversation_ttl: ClassVar[float] = 30.0  # never post to an older one (the demo evicts)

    @classmethod
    def shape(cls, o: Any) -> Shape:
        """The test type's shape; a `--duration` shorter than 4 warm-ups shrinks the warm-up
        to a quarter of the run, so a scaled-down run still has a steady state to judge.
        The shorter warm-up goes in this run's plan, so the class keeps its own."""
        shape: Shape = super().shape(o)  # type: ignore[misc]
        if o.duration and isinstance(shape.plan, SteadyPlan):
            quarter = parse_duration(o.duration) / 1e9 / 4
            plan = dataclasses.replace(shape.plan, warmup_s=min(shape.plan.warmup_s, quarter))
            shape = dataclasses.replace(shape, plan=plan)
        return shape

    async def iteration(self, vu: Any) -> None:
        st = self.__dict__
        if "headers" not in st:
            token = await login(vu, username("user", next(_users)))
            if token is None:
                await self._think(vu)
                return
            st.update(headers=auth(token), conv=None, born=0.0, visits=0)
        headers = st["headers"]
        async with vu.group("dashboard"):
            r = await vu.http.get("/v1/conversations", headers=headers,
                                  name="GET /v1/conversations")
            vu.check(r, {"conversations listed": lambda r: r.status == 200})
            r = await vu.http.get("/api/match/top", headers=headers, name="GET /api/match/top")
            vu.check(r, {"matches shown": lambda r: r.status == 200})
        stale = time.monotonic() - st["born"] > self.conversation_ttl
        if st["conv"] is None or stale or st["visits"] % self.create_every == 0:
            async with vu.group("create"):
                r = await vu.http.post("/v1/conversations", headers=headers,
                                       json={"title": new_id("topic"), "participants": []},
                                       name="POST /v1/conversations")
                if vu.check(r, {"conversation created": lambda r: r.status == 201}):
                    st.update(conv=r.json()["id"], born=time.monotonic())
        st["visits"] += 1
        if st["conv"] is not None:
            async with vu.group("send"):
                r = await vu.http.post("/v1/messages", headers=headers,
                                       name="POST /v1/messages",
                                       json={"conversation_id": st["conv"], "body": "hi there",
                                             "client_msg_id": new_id("j")})
                vu.check(r, {"message accepted": lambda r: r.status == 202})
        await self._think(vu)

    async def _think(self, vu: Any) -> None:
        lo, hi = think_range(vu, self.think)
        if hi > 0:
            await vu.sleep(random.uniform(lo, hi))
