"""Sustained login: 200 logins/s, more than 99.9 % of them succeeding.

What it proves: the auth path keeps up with a login storm (a mass reconnect after a deploy,
a morning peak) without shedding logins: `login_success` is the share of logins that
returned a usable token, and must stay above 99.9 %. Each login is a new user, so the
service issues (and has to store and eventually evict) a fresh token every time.

    loadgen run scenarios/sustained_login.py --thresholds thresholds/sustained_login.yaml
    loadgen run scenarios/sustained_login.py --rps 50 --duration 10s \\
        --thresholds thresholds/sustained_login.yaml
"""

from __future__ import annotations

import itertools
from typing import Any

from common import DEFAULT_BASE_URL, PASSWORD, username

from loadgen import ConstantArrivalRate, Rate, Scenario

login_success = Rate("login_success")
_users = itertools.count()


class SustainedLogin(Scenario):
    executor = ConstantArrivalRate(rate=200, duration="10m", pre_allocated_vus=20, max_vus=400)
    default_base_url = DEFAULT_BASE_URL

    async def iteration(self, vu: Any) -> None:
        r = await vu.http.post("/auth/login", name="POST /auth/login",
                               json={"username": username("login", next(_users)),
                                     "password": PASSWORD})
        ok = False
        if r.status == 200:
            try:
                ok = bool(r.json().get("token"))
            except ValueError:  # a 200 without a JSON body is a failed login too
                ok = False
        vu.check(r, {"token issued": lambda _: ok})
        login_success.add(ok)
