"""Outreach: a burst from 10 users at once starting outreach jobs; p95 under 1.5 s.

What it proves: POST /api/outreach/start absorbs a burst: 10 users hit it at the same
moment, each starting 20 jobs back to back (no think time), and the jobs are accepted (202)
with p95 under 1.5 s, even for the requests queued behind the first wave.

    loadgen run scenarios/outreach.py --thresholds thresholds/outreach.yaml
    loadgen run scenarios/outreach.py --vus 10 --duration 5s --thresholds thresholds/outreach.yaml
"""

from __future__ import annotations

from typing import Any

from common import DEFAULT_BASE_URL, auth, login_many, setup_vu, username

from loadgen import PerVUIterations, Scenario

USERS = [username("campaigner", i) for i in range(10)]


class Outreach(Scenario):
    executor = PerVUIterations(vus=10, iterations=20, max_duration="2m")
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> list[dict[str, str]]:
        tokens = await login_many(setup_vu(), USERS)
        return [auth(t) for t in tokens.values()]

    async def iteration(self, vu: Any) -> None:
        headers = self.data[vu.id % len(self.data)]
        r = await vu.http.post("/api/outreach/start", headers=headers,
                               name="POST /api/outreach/start",
                               json={"campaign": f"burst-{vu.id}",
                                     "targets": [f"lead-{vu.iteration}-{k}" for k in range(5)]})
        vu.check(r, {"job started (202)": lambda r: r.status == 202,
                     "status started": lambda r: r.json()["status"] == "started"})
