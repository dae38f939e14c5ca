"""Endpoints that stand in for real backend work: their latency is a tunable distribution.

Each endpoint sleeps for a lognormal draw with a configured median and p95 (seeded RNG),
so a scenario sees a realistic, right-skewed latency spread with a known ground truth:
a load test's p95 can be compared with the p95 the server was told to produce.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from random import Random

from aiohttp import web

from loadgen.demo.auth import require_user
from loadgen.demo.config import LatencyProfile
from loadgen.demo.jsonio import (
    get_optional_str,
    get_str_list,
    json_response,
    query_int,
    read_optional_object,
)
from loadgen.demo.state import state

_MAX_SLEEP_S = 30.0


def sample_seconds(profile: LatencyProfile, rng: Random) -> float:
    """One lognormal draw in seconds (capped so a silly profile cannot hang a handler)."""
    mu, sigma = profile.mu_sigma
    if math.isinf(mu):
        return 0.0
    ms = rng.lognormvariate(mu, sigma) if sigma > 0 else profile.median_ms
    return min(ms / 1000.0, _MAX_SLEEP_S)


async def _simulate(request: web.Request, name: str) -> float:
    """Sleep per the endpoint's profile; returns the milliseconds slept."""
    st = state(request)
    profile = st.config.work.get(name, LatencyProfile())
    delay = sample_seconds(profile, st.work_rng)
    start = time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    return round((time.perf_counter() - start) * 1000.0, 3)


async def match_top(request: web.Request) -> web.Response:
    """GET /api/match/top?limit=N → {"matches": [{"id", "score"}], "took_ms"}."""
    st = state(request)
    user = require_user(request, st.tokens)
    limit = query_int(request, "limit", default=10, lo=1, hi=100)
    took = await _simulate(request, "match")
    rng = st.work_rng
    scores = sorted((round(rng.random(), 4) for _ in range(limit)), reverse=True)
    matches = [{"id": f"cand-{rng.randrange(1_000_000):06d}", "score": s} for s in scores]
    return json_response({"user": user, "matches": matches, "took_ms": took})


async def outreach_start(request: web.Request) -> web.Response:
    """POST /api/outreach/start {"campaign"?: str, "targets"?: [str]} → 202 job."""
    st = state(request)
    user = require_user(request, st.tokens)
    data = await read_optional_object(request)
    campaign = get_optional_str(data, "campaign", max_len=200) or "default"
    targets = get_str_list(data, "targets") if "targets" in data else []
    took = await _simulate(request, "outreach")
    return json_response(
        {
            "job_id": uuid.uuid4().hex,
            "status": "started",
            "owner": user,
            "campaign": campaign,
            "targets": len(targets),
            "took_ms": took,
        },
        status=202,
    )


async def audit_run(request: web.Request) -> web.Response:
    """POST /api/audit/run (body optional) → {"audit_id", "checks", "passed", "took_ms"}."""
    st = state(request)
    require_user(request, st.tokens)
    await read_optional_object(request)
    took = await _simulate(request, "audit")
    checks = 12
    return json_response(
        {"audit_id": uuid.uuid4().hex, "checks": checks, "passed": checks, "took_ms": took}
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/match/top", match_top, allow_head=False),
        web.post("/api/outreach/start", outreach_start),
        web.post("/api/audit/run", audit_run),
    ]
