"""Smoke test: one GET of / per iteration, checked for a 200.

Proves the target answers at all before heavier scenarios run.
    BASE_URL=http://127.0.0.1:8000 loadgen run scenarios/smoke.py --vus 10 --duration 5s
"""

from loadgen import ConstantVUs, Scenario


class Smoke(Scenario):
    executor = ConstantVUs(vus=1, duration="10s")
    thresholds = {"http_req_failed": ["rate<0.01"], "http_req_duration": ["p(95)<500"]}

    async def iteration(self, vu):
        r = await vu.http.get("/", name="root")
        vu.check(r, {"status is 200": lambda r: r.status == 200})
        await vu.sleep(0.1)
