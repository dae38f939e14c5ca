"""The same workload as compat.js, in loadgen's Python API (compatibility test)."""

from loadgen import (
    ConstantArrivalRate,
    Counter,
    Gauge,
    PerVUIterations,
    RampingArrivalRate,
    Rate,
    Scenario,
    Trend,
)

my_counter = Counter("my_counter")
my_gauge = Gauge("my_gauge")
my_rate = Rate("my_rate")
my_trend = Trend("my_trend", True)

THRESHOLDS = {
    "http_req_duration": ["p(95)<5000", "avg<4000"],
    "http_req_duration{status:200}": ["max<5000"],
    "checks": ["rate>0.9"],
    "http_req_failed": ["rate<0.6"],
    "iterations{scenario:car}": ["count>0"],
    "iterations{scenario:rar}": ["count>0"],
    "iterations{scenario:pervu}": ["count==6"],
    "my_counter": ["count>1"],
    "my_gauge": ["value<100"],
    "my_rate": ["rate>0.1"],
    "my_trend": ["med>0"],
}


class Shop(Scenario):
    abstract = True
    thresholds = THRESHOLDS

    async def iteration(self, vu):
        async with vu.group("front"):
            r = await vu.http.get("/")
            vu.check(r, {"status is 200": lambda r: r.status == 200})
            async with vu.group("nested"):
                r2 = await vu.http.get("/status/404")
                vu.check(r2, {"is 404": lambda r: r.status == 404,
                              "is 200": lambda r: r.status == 200})
        my_counter.add(3)
        my_gauge.add(10)
        my_rate.add(True)
        my_rate.add(False)
        my_trend.add(12.5)


class Car(Shop):
    executor = ConstantArrivalRate(rate=20, duration="1030ms", pre_allocated_vus=5)


class Rar(Shop):
    executor = RampingArrivalRate(start_rate=5, stages=[("1s", 5), ("1s", 0)],
                                  pre_allocated_vus=5)


class Pervu(Shop):
    executor = PerVUIterations(vus=2, iterations=3)
