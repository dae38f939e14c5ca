"""Conversation stress: 200 requests/s of mixed CRUD on conversations (40 % create, 30 % list,
20 % update, 10 % delete), where the only non-2xx answers are the conflicts the API promises.

What it proves: under load, optimistic concurrency answers a stale write with 409 and the
creator-only delete answers a participant with 403 (both must happen: `count>0`), and
nothing else fails: `expected_statuses` counts 2xx, 403 and 409 as expected, so
`http_req_failed` is the rate of every other status (a 404, a 500, a timeout) and must be 0.

How the flows exclude races (so a 404 is a real bug, never the test's own doing):
* every conversation is updated and deleted only by the VU that created it (per-VU state),
  so no other VU can delete it first;
* each VU remembers only its conversations younger than `FORGET_AFTER_S`, far less than the
  time the demo takes to evict its oldest conversations (50,000 of them) at this rate;
* the mix is a fixed cycle per VU that starts with a create, so an update or delete always
  has a conversation to work on, and the percentages are exact rather than random.

The conflicts are the realistic ones: an update is two editors racing (the partner saves
first, the owner's save with the version it read is a 409, the owner re-reads and saves);
a delete is the partner trying first (403, only the creator may) and then the owner (204).

    loadgen run scenarios/conversation_stress.py --thresholds thresholds/conversation_stress.yaml
The rate is in operations: 118/s is about 200 requests/s (an update is 4 requests, a delete
2). 1,000 users take turns as owners, so no user's list grows into a bulk export.

    loadgen run scenarios/conversation_stress.py --rps 50 --duration 20s \\
        --thresholds thresholds/conversation_stress.yaml
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

from common import DEFAULT_BASE_URL, auth, login_many, new_id, setup_vu, username

from loadgen import ConstantArrivalRate, Scenario

USERS = 1000  # logged in once in setup(); each create takes the next one as owner
FORGET_AFTER_S = 30.0
KEEP = 20  # conversations a VU remembers at most
# per-VU cycle of 10 operations: 4 create, 3 list, 2 update, 1 delete
CYCLE = ("create", "list", "update", "create", "delete", "create", "list", "update", "create",
         "list")

_owners = itertools.count()


class Conv:
    """A conversation this VU created: who owns it, its partner, the version last seen."""

    __slots__ = ("id", "version", "born", "owner", "partner")

    def __init__(self, cid: str, version: int, owner: dict[str, str],
                 partner: dict[str, str]) -> None:
        self.id, self.version, self.born = cid, version, time.monotonic()
        self.owner, self.partner = owner, partner


class ConversationStress(Scenario):
    # 118 operations/s: with an update being 4 requests and a delete 2, about 200 requests/s
    executor = ConstantArrivalRate(rate=118, duration="10m", pre_allocated_vus=20, max_vus=400)
    default_base_url = DEFAULT_BASE_URL
    expected_statuses = ((200, 299), 403, 409)

    async def setup(self) -> dict[str, Any]:
        users = [username("crud", i) for i in range(USERS)]
        tokens = await login_many(setup_vu(), users)
        return {"users": users, "headers": [auth(tokens[u]) for u in users]}

    def _fresh(self) -> deque[Conv]:
        limit = time.monotonic() - FORGET_AFTER_S
        while self.convs and self.convs[0].born < limit:
            self.convs.popleft()
        return self.convs

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "convs"):
            self.convs: deque[Conv] = deque()
            self.step = 0
        op = CYCLE[self.step % len(CYCLE)]
        self.step += 1
        if op in ("update", "delete", "list") and not self._fresh():
            op = "create"  # first op, or after a long pause of this VU: nothing to work on
        await getattr(self, op)(vu)

    async def create(self, vu: Any) -> None:
        # a new owner each time keeps every user's list short (the demo keeps 50,000
        # conversations; a few users owning them all would make "list" a bulk export)
        k = next(_owners)
        users, headers = self.data["users"], self.data["headers"]
        owner, partner = k % USERS, (k + 1) % USERS
        r = await vu.http.post("/v1/conversations", headers=headers[owner],
                               json={"title": new_id("crud"), "participants": [users[partner]]},
                               name="POST /v1/conversations")
        if vu.check(r, {"create 201": lambda r: r.status == 201}):
            self.convs.append(Conv(r.json()["id"], 1, headers[owner], headers[partner]))
            while len(self.convs) > KEEP:
                self.convs.popleft()

    async def list(self, vu: Any) -> None:
        r = await vu.http.get("/v1/conversations", headers=self.convs[-1].owner,
                              name="GET /v1/conversations")
        vu.check(r, {"list 200": lambda r: r.status == 200})

    async def update(self, vu: Any) -> None:
        c = self.convs[-1]
        url = f"/v1/conversations/{c.id}"
        name = "PATCH /v1/conversations/{id}"
        # the partner read the same version and saves first
        r = await vu.http.patch(url, headers=c.partner, name=name,
                                json={"version": c.version, "title": "partner's edit"})
        vu.check(r, {"first save 200": lambda r: r.status == 200})
        # the owner's save with the version it read is now stale
        r = await vu.http.patch(url, headers=c.owner, name=name,
                                json={"version": c.version, "title": "owner's edit"})
        vu.check(r, {"stale save 409": lambda r: r.status == 409})
        # re-read, save again
        r = await vu.http.get(url, headers=c.owner, name="GET /v1/conversations/{id}")
        if not vu.check(r, {"re-read 200": lambda r: r.status == 200}):
            return
        r = await vu.http.patch(url, headers=c.owner, name=name,
                                json={"version": int(r.json()["version"]),
                                      "title": "owner's edit"})
        if vu.check(r, {"retried save 200": lambda r: r.status == 200}):
            c.version = int(r.json()["version"])

    async def delete(self, vu: Any) -> None:
        c = self.convs.popleft()  # the oldest
        url = f"/v1/conversations/{c.id}"
        name = "DELETE /v1/conversations/{id}"
        r = await vu.http.delete(url, headers=c.partner, name=name)
        vu.check(r, {"participant delete 403": lambda r: r.status == 403})
        r = await vu.http.delete(url, headers=c.owner, name=name)
        vu.check(r, {"creator delete 204": lambda r: r.status == 204})
