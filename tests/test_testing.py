"""loadgen.testing as a scenario author uses it: an iteration run against MockTransport, no
server, then assertions on what it requested, checked and recorded."""

from __future__ import annotations

import orjson
import pytest

from loadgen import VU, Counter, Scenario
from loadgen.net.types import RawResponse, Request
from loadgen.testing import MockTransport, ScenarioProbe, reply

orders = Counter("orders_placed")


class Checkout(Scenario):
    tags = {"flow": "checkout"}

    async def iteration(self, vu: VU) -> None:
        r = await vu.http.get("/cart", name="cart")
        if vu.check(r, {"cart ok": lambda r: r.status == 200}):
            r = await vu.http.post("/orders", json={"items": r.json()["items"]})
            if vu.check(r, {"order created": lambda r: r.status == 201}):
                orders.add(1)


def shop(request: Request) -> RawResponse:
    if request.url.endswith("/cart"):
        return reply(200, json={"items": [1, 2]}, waiting_ms=3.0)
    if request.method == "POST" and request.url.endswith("/orders"):
        return reply(201, json={"id": 7})
    return reply(404)


async def test_an_iteration_against_a_mock_transport():
    probe = ScenarioProbe(Checkout, MockTransport(shop))
    await probe.iteration()
    assert [(r.method, r.url) for r in probe.transport.requests] == [
        ("GET", "http://127.0.0.1:8000/cart"), ("POST", "http://127.0.0.1:8000/orders")]
    assert probe.transport.requests[1].body == b'{"items":[1,2]}'
    assert probe.checks() == {"cart ok": [True], "order created": [True]}
    assert [v for v, _ in probe.samples("orders_placed")] == [1.0]
    [(dur, tags), _] = probe.samples("http_req_duration")
    assert dur == 3.0
    assert tags["name"] == "cart" and tags["flow"] == "checkout" and tags["status"] == "200"


async def test_a_failing_backend_fails_the_checks():
    probe = ScenarioProbe(Checkout, MockTransport(lambda req: reply(503)))
    await probe.iteration()
    assert probe.checks() == {"cart ok": [False]}
    assert probe.samples("orders_placed") == []


async def test_an_async_handler_and_an_exception_reaching_the_test():
    async def handler(req: Request) -> RawResponse:
        return reply(200, body="not json")

    probe = ScenarioProbe(Checkout, MockTransport(handler))
    with pytest.raises(orjson.JSONDecodeError):
        await probe.iteration()  # r.json() on a non-JSON body
