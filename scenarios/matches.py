"""Matches: GET /api/match/top at a constant 20 requests/s; p95 under 800 ms.

What it proves: the matching endpoint (right-skewed work latency, like a real ranking query)
holds its latency SLO at a steady arrival rate. The open model keeps arriving at 20/s even
when the endpoint slows down, so a slow patch shows in the p95 instead of throttling the test.

    loadgen run scenarios/matches.py --thresholds thresholds/matches.yaml
    loadgen run scenarios/matches.py --rps 20 --duration 10s --thresholds thresholds/matches.yaml
"""

from __future__ import annotations

from typing import Any

from common import DEFAULT_BASE_URL, auth, login_many, setup_vu, username

from loadgen import ConstantArrivalRate, Scenario

USERS = [username("matcher", i) for i in range(10)]


class Matches(Scenario):
    executor = ConstantArrivalRate(rate=20, duration="10m", pre_allocated_vus=10, max_vus=100)
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> list[dict[str, str]]:
        tokens = await login_many(setup_vu(), USERS)
        return [auth(t) for t in tokens.values()]

    async def iteration(self, vu: Any) -> None:
        headers = self.data[vu.iteration % len(self.data)]
        r = await vu.http.get("/api/match/top", params={"limit": 10}, headers=headers,
                              name="GET /api/match/top")
        vu.check(r, {"matches 200": lambda r: r.status == 200,
                     "10 matches": lambda r: len(r.json()["matches"]) == 10})
