"""Each fault, switched on at run time (and at startup), does exactly what it says."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest
from demo_helpers import DemoClient, StartDemo, recv_json, recv_nothing

from loadgen.demo import DemoConfig, Faults


async def _set(demo: DemoClient, **faults: object) -> dict[str, Any]:
    status, body = await demo.call("POST", "/admin/faults", json=faults)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def _timed(demo: DemoClient, path: str, user: str | None = "alice") -> tuple[int, float]:
    start = time.perf_counter()
    status, _ = await demo.call("GET", path, user)
    return status, time.perf_counter() - start


async def test_admin_get_set_clear(demo: DemoClient) -> None:
    status, body = await demo.call("GET", "/admin/faults")
    assert status == 200
    assert body["latency_ms"] == 0
    assert body["close_code"] is None
    body = await _set(demo, latency_ms=5, drop_every=3, paths=["/v1/"])
    assert body["latency_ms"] == 5
    assert body["drop_every"] == 3
    assert body["paths"] == ["/v1/"]
    assert body["error_rate"] == 0  # replaced, not merged
    status, body = await demo.call("DELETE", "/admin/faults")
    assert status == 200
    assert body == {**Faults().to_dict(), "stall_remaining_s": 0}


async def test_latency_fault(demo: DemoClient) -> None:
    await demo.token("alice")
    _, base = await _timed(demo, "/v1/conversations")
    await _set(demo, latency_ms=300)
    status, slow = await _timed(demo, "/v1/conversations")
    assert status == 200
    assert slow >= 0.29
    assert slow - base >= 0.25
    _, admin = await _timed(demo, "/admin/faults", None)  # admin is exempt
    assert admin < 0.2
    await _set(demo, latency_ms=300, paths=["/api/"])  # scoped to a prefix
    _, unscoped = await _timed(demo, "/v1/conversations")
    assert unscoped < 0.2
    _, scoped = await _timed(demo, "/api/match/top")
    assert scoped >= 0.29


async def test_error_rate_fault(demo: DemoClient) -> None:
    await demo.token("alice")
    await _set(demo, error_rate=1.0, error_status=500)
    status, body = await demo.call("GET", "/v1/conversations", "alice")
    assert status == 500
    assert body == {"error": "injected fault"}
    await _set(demo, error_rate=0.5)
    statuses = Counter(
        [(await demo.call("GET", "/v1/conversations", "alice"))[0] for _ in range(60)]
    )
    assert set(statuses) == {200, 503}
    assert 10 <= statuses[503] <= 50


async def test_error_rate_at_startup(start_demo: StartDemo) -> None:
    demo = await start_demo(DemoConfig(faults=Faults(error_rate=1.0)))
    status, _ = await demo.call("GET", "/healthz")
    assert status == 503
    status, _ = await demo.call("GET", "/metrics")
    assert status == 200


async def test_stall_fault_blocks_until_it_ends(demo: DemoClient) -> None:
    await demo.token("alice")
    body = await _set(demo, stall_seconds=0.3)
    assert body["stall_remaining_s"] > 0
    results = await asyncio.gather(*[_timed(demo, "/v1/conversations") for _ in range(5)])
    assert all(status == 200 for status, _ in results)
    assert all(0.2 <= took < 1.0 for _, took in results), results
    _, after = await _timed(demo, "/v1/conversations")  # stall over: fast again
    assert after < 0.2

    await _set(demo, stall_seconds=10)  # DELETE releases stalled requests at once
    pending = asyncio.ensure_future(_timed(demo, "/v1/conversations"))
    await asyncio.sleep(0.05)
    assert not pending.done()
    await demo.call("DELETE", "/admin/faults")
    status, took = await asyncio.wait_for(pending, 2)
    assert status == 200
    assert took < 1.0


async def test_drop_every_nth_delivery_is_exact(demo: DemoClient) -> None:
    conv = await demo.conversation("alice")
    ws = await demo.ws("alice")
    await _set(demo, drop_every=10)
    n = 95
    for i in range(n):
        body = {"conversation_id": conv["id"], "body": f"{i}", "client_msg_id": f"c{i}"}
        assert (await demo.call("POST", "/v1/messages", "alice", json=body))[0] == 202
    await demo.drain()
    got = [await recv_json(ws) for _ in range(n - 9)]
    await recv_nothing(ws)
    received = [int(f["body"]) for f in got]
    assert received == sorted(received)  # one consumer: per-socket order is kept
    missing = sorted(set(range(n)) - set(received))
    assert missing == [9, 19, 29, 39, 49, 59, 69, 79, 89]
    _, stats = await demo.call("GET", "/admin/stats")
    assert stats["dead"] == 9
    assert stats["delivered"] == n - 9
    await ws.close()


@pytest.mark.parametrize("endpoint", ["echo", "messaging"])
async def test_close_fault_closes_open_and_new_sockets(demo: DemoClient, endpoint: str) -> None:
    async def connect() -> aiohttp.ClientWebSocketResponse:
        return await (demo.echo() if endpoint == "echo" else demo.ws("alice"))

    ws = await connect()
    await _set(demo, close_code=1002)
    msg = await ws.receive(timeout=2)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 1002
    assert ws.close_code == 1002

    fresh = await connect()
    msg = await fresh.receive(timeout=2)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert fresh.close_code == 1002

    await demo.call("DELETE", "/admin/faults")
    healthy = await connect()
    await recv_nothing(healthy, 0.1)
    assert not healthy.closed
    await healthy.close()


async def test_corruption_on_echo(demo: DemoClient) -> None:
    ws = await demo.echo()
    await _set(demo, corrupt_every=2)
    sent: list[str | bytes] = [b"\x00" * 33, b"\x00" * 33, "abcdefg", "abcdefg"]
    got: list[str | bytes] = []
    for p in sent:
        await (ws.send_bytes(p) if isinstance(p, bytes) else ws.send_str(p))
        got.append((await ws.receive(timeout=2)).data)
    assert got[0] == sent[0]
    assert got[1] == b"\x00" * 16 + b"\xff" + b"\x00" * 16
    assert got[2] == "abcdefg"
    assert got[3] == "abc" + chr(ord("d") ^ 1) + "efg"  # "abceefg"
    await ws.close()


async def test_corruption_on_delivery(demo: DemoClient) -> None:
    conv = await demo.conversation("alice", "bob")
    alice, bob = await demo.ws("alice"), await demo.ws("bob")
    await _set(demo, corrupt_rate=1.0)
    body = "x" * 1024
    await demo.call(
        "POST", "/v1/messages", "alice", json={"conversation_id": conv["id"], "body": body}
    )
    for ws in (alice, bob):
        frame = await recv_json(ws)
        diff = [i for i, (a, b) in enumerate(zip(frame["body"], body, strict=True)) if a != b]
        assert diff == [512]
    await alice.close()
    await bob.close()


def test_faults_validation() -> None:
    assert Faults.from_dict({}) == Faults()
    f = Faults.from_dict({"latency_ms": 5, "close_code": 4000, "paths": ["/v1"]})
    assert f.latency_ms == 5.0
    assert f.close_code == 4000
    assert f.paths == ("/v1",)
    with pytest.raises(ValueError, match="error_rate") as exc:
        Faults.from_dict({"error_rate": -1, "drop_every": "3", "bogus": 1})
    assert "drop_every" in str(exc.value)
    assert "bogus" in str(exc.value)
