"""Audit: users ramping 5 -> 20 -> 0 running audits; p95 under 5 s.

What it proves: POST /api/audit/run (the slowest endpoint: a long, skewed job) keeps its p95
under 5 s while the number of concurrent users quadruples and then drains away. A closed
model on purpose: an audit is something a user starts and waits for, then thinks.

    loadgen run scenarios/audit.py --thresholds thresholds/audit.yaml
    loadgen run scenarios/audit.py --stage 2s:20 --stage 2s:0 --thresholds thresholds/audit.yaml
"""

from __future__ import annotations

import random
from typing import Any

from common import DEFAULT_BASE_URL, auth, login_many, setup_vu, username

from loadgen import RampingVUs, Scenario

USERS = [username("auditor", i) for i in range(20)]


class Audit(Scenario):
    executor = RampingVUs(start_vus=5, stages=[("2m", 20), ("5m", 20), ("2m", 0)],
                          graceful_ramp_down="30s")
    default_base_url = DEFAULT_BASE_URL

    async def setup(self) -> list[dict[str, str]]:
        tokens = await login_many(setup_vu(), USERS)
        return [auth(t) for t in tokens.values()]

    async def iteration(self, vu: Any) -> None:
        headers = self.data[vu.id % len(self.data)]
        r = await vu.http.post("/api/audit/run", headers=headers, name="POST /api/audit/run",
                               json={"scope": "nightly"})
        vu.check(r, {"audit 200": lambda r: r.status == 200,
                     "all checks passed": lambda r: r.json()["passed"] == r.json()["checks"]})
        await vu.sleep(random.uniform(0.5, 1.5))  # reading the report
