"""Participant invalidation: 100 membership changes/s, and no stale read after any of them.

What it proves: the participant cache is invalidated in the same step as the change. A
removed participant is gone from the cache's view (GET .../participants, which the demo
answers from its cache) and is refused (403) by the very next request, and an added one is
let in at once. Every stale answer is counted in `stale_reads`, which must stay 0.

How: each VU owns one conversation and a guest user. Its iterations alternate: add the guest
(the guest's read must succeed and see itself; a second read warms the cache so the next
removal has a cached entry to invalidate), then remove the guest (the guest must get 403 at
once; the owner's view must no longer list the guest). One membership change per iteration,
so the arrival rate is the change rate.

    loadgen run scenarios/participant_invalidation.py \\
        --thresholds thresholds/participant_invalidation.yaml
    loadgen run scenarios/participant_invalidation.py --rps 20 --duration 10s \\
        --thresholds thresholds/participant_invalidation.yaml
"""

from __future__ import annotations

import itertools
from typing import Any

from common import DEFAULT_BASE_URL, auth, create_conversation, login, username

from loadgen import ConstantArrivalRate, Counter, Scenario

stale_reads = Counter("stale_reads")
_slots = itertools.count()


class ParticipantInvalidation(Scenario):
    executor = ConstantArrivalRate(rate=100, duration="10m", pre_allocated_vus=20, max_vus=200)
    default_base_url = DEFAULT_BASE_URL

    async def _init(self, vu: Any) -> bool:
        n = next(_slots)
        owner, self.guest = username("owner", n), username("guest", n)
        owner_token, guest_token = await login(vu, owner), await login(vu, self.guest)
        if owner_token is None or guest_token is None:
            return False
        conv = await create_conversation(vu, owner_token, [], f"membership {n}")
        if conv is None:
            return False
        self.owner_h, self.guest_h = auth(owner_token), auth(guest_token)
        self.url = f"/v1/conversations/{conv['id']}/participants"
        self.member = False
        return True

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "url") and not await self._init(vu):
            return
        if self.member:
            await self.remove(vu)
        else:
            await self.add(vu)

    async def add(self, vu: Any) -> None:
        r = await vu.http.post(self.url, headers=self.owner_h, json={"participants": [self.guest]},
                               name="POST participants")
        if not vu.check(r, {"add 200": lambda r: r.status == 200}):
            return
        self.member = True
        guest = self.guest

        def sees_itself(r: Any) -> bool:
            return r.status == 200 and guest in r.json()["participants"]

        for _ in range(2):  # the first read loads the cache, the second is served from it
            r = await vu.http.get(self.url, headers=self.guest_h, name="GET participants")
            if not vu.check(r, {"added guest is let in": sees_itself}):
                stale_reads.add(1, tags={"after": "add"})

    async def remove(self, vu: Any) -> None:
        guest = self.guest
        r = await vu.http.delete(f"{self.url}/{self.guest}", headers=self.owner_h,
                                 name="DELETE participants/{user}")
        if not vu.check(r, {"remove 200": lambda r: r.status == 200}):
            return
        self.member = False
        r = await vu.http.get(self.url, headers=self.guest_h, name="GET participants",
                              expected_statuses=[403])
        if not vu.check(r, {"removed guest gets 403 at once": lambda r: r.status == 403}):
            stale_reads.add(1, tags={"after": "remove"})
        r = await vu.http.get(self.url, headers=self.owner_h, name="GET participants")
        if not vu.check(r, {"removed guest gone from the cache's view":
                            lambda r: r.status == 200 and guest not in r.json()["participants"]}):
            stale_reads.add(1, tags={"after": "remove"})
