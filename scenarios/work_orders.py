"""Work orders: phases of arrival rates with two weighted flows, the shape Artillery users
write in YAML:

    phases:                                  scenarios:
      - {duration: 60,  arrivalRate: 10}       - name: work order   (weight 7)
      - {duration: 120, arrivalRate: 20}         create -> list -> update
      - {duration: 60,  arrivalRate: 10}       - name: inventory    (weight 3)
                                                 look up stock -> run a stock audit

Here: a RampingArrivalRate whose 0-second stages are the jumps between phases, and one
iteration per arrival that picks its flow by weight (70 % / 30 %, in a fixed interleaving so
even a short run has both in the exact proportion). It is written as a test type (`shape`)
so the command line scales the phases instead of replacing them: `--duration` stretches or
shrinks all phases in proportion, `--rps` sets the busiest phase's rate (the others follow).

The demo has no work-order or inventory endpoints, so the flows are mapped onto what it has:
a work order is a conversation (create POST /v1/conversations -> list GET /v1/conversations
-> update PATCH /v1/conversations/{id} with the version just read, optimistic concurrency
like a real work-order status change), and the inventory flow is GET /api/match/top (the
stock lookup) + POST /api/audit/run (the stock audit). Each flow is a group, so
`group_duration{group:::work_order}` is the flow's end-to-end time.

What it proves: both flows keep their latency through the phase changes, including the
instant doubling of the arrival rate.

    loadgen run scenarios/work_orders.py --thresholds thresholds/work_orders.yaml
    loadgen run scenarios/work_orders.py --rps 10 --duration 12s \\
        --thresholds thresholds/work_orders.yaml
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from common import DEFAULT_BASE_URL, auth, login_many, new_id, setup_vu, username

from loadgen import RampingArrivalRate, Shape, Stage
from loadgen.options import format_duration, parse_duration
from loadgen.testtypes import TestType

USERS = [username("technician", i) for i in range(20)]
FLOWS = ("work_order",) * 7 + ("inventory",) * 3
ORDER = (0, 7, 1, 2, 8, 3, 4, 9, 5, 6)  # interleaves the 7 work orders and 3 inventories
_arrivals = itertools.count()


class WorkOrders(TestType):
    kind = "phases"
    default_base_url = DEFAULT_BASE_URL
    #: Artillery's phases: (duration, arrivals per second)
    phases: ClassVar[list[tuple[str, float]]] = [("60s", 10), ("120s", 20), ("60s", 10)]

    @classmethod
    def shape(cls, o: Any) -> Shape:
        """60 s at 10/s, jump, 120 s at 20/s, jump, 60 s at 10/s (scaled by the flags)."""
        total = sum(parse_duration(d) for d, _ in cls.phases)
        scale = parse_duration(o.duration) / total if o.duration else 1.0
        k = o.rps / max(r for _, r in cls.phases) if o.rps else 1.0
        stages: list[Stage] = []
        for i, (d, r) in enumerate(cls.phases):
            if i:
                stages.append(Stage("0s", r * k))  # the jump to the next phase
            stages.append(Stage(format_duration(round(parse_duration(d) * scale)), r * k))
        return Shape(RampingArrivalRate(start_rate=cls.phases[0][1] * k, time_unit="1s",
                                        stages=stages, pre_allocated_vus=o.vus or 20,
                                        max_vus=o.max_vus or 200))

    async def setup(self) -> list[dict[str, str]]:
        tokens = await login_many(setup_vu(), USERS)
        return [auth(t) for t in tokens.values()]

    async def iteration(self, vu: Any) -> None:
        n = next(_arrivals)
        headers = self.data[n % len(self.data)]
        flow = FLOWS[ORDER[n % len(ORDER)]]
        async with vu.group(flow):
            await getattr(self, flow)(vu, headers)

    async def work_order(self, vu: Any, headers: dict[str, str]) -> None:
        r = await vu.http.post("/v1/conversations", headers=headers, name="create work order",
                               json={"title": new_id("WO"), "participants": []})
        if not vu.check(r, {"work order created": lambda r: r.status == 201}):
            return
        order = r.json()
        r = await vu.http.get("/v1/conversations", headers=headers, name="list work orders")
        vu.check(r, {"work orders listed": lambda r: r.status == 200})
        r = await vu.http.patch(f"/v1/conversations/{order['id']}", headers=headers,
                                name="update work order",
                                json={"version": order["version"], "title": "in progress"})
        vu.check(r, {"work order updated": lambda r: r.status == 200})

    async def inventory(self, vu: Any, headers: dict[str, str]) -> None:
        r = await vu.http.get("/api/match/top", headers=headers, params={"limit": 20},
                              name="look up stock")
        vu.check(r, {"stock listed": lambda r: r.status == 200})
        r = await vu.http.post("/api/audit/run", headers=headers, name="audit stock",
                               json={"scope": "inventory"})
        vu.check(r, {"stock audited": lambda r: r.status == 200})
