"""Message fan-out over WebSockets, the echo socket, and the Prometheus endpoint."""

from __future__ import annotations

import asyncio
import os

import aiohttp
from demo_helpers import DemoClient, recv_json, recv_nothing
from prometheus_client.parser import text_string_to_metric_families

from loadgen.demo import create_app
from loadgen.demo.state import STATE


async def test_message_delivered_to_every_participant_only(demo: DemoClient) -> None:
    conv = await demo.conversation("alice", "bob")
    alice, bob, carol = [await demo.ws(u) for u in ("alice", "bob", "carol")]
    bob2 = await demo.session.ws_connect(demo.base + "/v1/ws", headers=await demo.auth("bob"))
    body = "hello " * 170  # ~1 KiB
    status, ack = await demo.call(
        "POST",
        "/v1/messages",
        "alice",
        json={"conversation_id": conv["id"], "body": body, "client_msg_id": "cm-1"},
    )
    assert status == 202
    assert ack["recipients"] == 2
    for ws in (alice, bob, bob2):
        frame = await recv_json(ws)
        assert frame["id"] == ack["id"]
        assert frame["conversation_id"] == conv["id"]
        assert frame["client_msg_id"] == "cm-1"
        assert frame["body"] == body
        assert frame["sender"] == "alice"
        assert frame["sent_at"] == ack["sent_at"]
    await recv_nothing(carol)
    for ws in (alice, bob, bob2, carol):
        await ws.close()


async def test_ws_requires_token(demo: DemoClient) -> None:
    async with demo.session.get(demo.base + "/v1/ws?token=bogus") as resp:
        assert resp.status == 401
        assert "error" in await resp.json()


async def test_send_and_ping_over_the_socket(demo: DemoClient) -> None:
    conv = await demo.conversation("alice", "bob")
    alice, bob = await demo.ws("alice"), await demo.ws("bob")
    await alice.send_json({"type": "ping", "id": 7})
    assert await recv_json(alice) == {"type": "pong", "id": 7}
    await alice.send_json(
        {"type": "send", "conversation_id": conv["id"], "body": "via ws", "client_msg_id": "w1"}
    )
    frames = [await recv_json(alice), await recv_json(alice)]  # ack and delivery, any order
    assert sorted(f["type"] for f in frames) == ["ack", "message"]
    delivered = await recv_json(bob)
    assert delivered["body"] == "via ws"
    assert delivered["client_msg_id"] == "w1"
    await alice.send_str("{broken")
    err = await recv_json(alice)
    assert err["type"] == "error"
    await alice.send_json({"type": "send", "conversation_id": "nope", "body": "x"})
    err = await recv_json(alice)
    assert err["type"] == "error"
    assert err["status"] == 404
    await alice.close()
    await bob.close()


async def test_echo_roundtrips_text_and_binary(demo: DemoClient) -> None:
    ws = await demo.echo()
    payloads: list[str | bytes] = ["hello", "ünïcødé ✓", os.urandom(64 * 1024), b"\x00\x01"]
    for p in payloads:
        if isinstance(p, str):
            await ws.send_str(p)
        else:
            await ws.send_bytes(p)
        msg = await ws.receive(timeout=2)
        assert msg.data == p
        expected = aiohttp.WSMsgType.TEXT if isinstance(p, str) else aiohttp.WSMsgType.BINARY
        assert msg.type == expected
    await ws.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_after_traffic(demo: DemoClient) -> None:
    conv = await demo.conversation("alice", "bob")
    alice, bob = await demo.ws("alice"), await demo.ws("bob")
    n = 20
    for i in range(n):
        status, _ = await demo.call(
            "POST", "/v1/messages", "alice", json={"conversation_id": conv["id"], "body": f"{i}"}
        )
        assert status == 202
    for _ in range(n):
        await recv_json(alice)
        await recv_json(bob)
    await demo.call("GET", "/v1/conversations", "carol")
    await demo.drain()

    m = _samples(await demo.metrics())
    posted = (("method", "POST"), ("route", "/v1/messages"), ("status", "202"))
    assert m[("http_requests_total", posted)] == n
    assert m[("messaging_consumer_delivered_total", ())] == 2 * n
    assert m[("messaging_enqueued_total", ())] == n
    assert m[("messaging_dispatch_lag_seconds_count", ())] == n
    assert 0 <= m[("messaging_dispatch_lag_seconds_sum", ())] < n * 1.0
    assert m[("messaging_consumer_lag_seconds_count", ())] == 2 * n
    assert m[("messaging_outbox_dead_total", (("reason", "fault_drop"),))] == 0
    assert m[("messaging_queue_depth", ())] == 0
    assert m[("participant_cache_hits_total", ())] >= n - 1
    assert m[("participant_cache_misses_total", ())] >= 1
    assert m[("ws_connections", (("kind", "messaging"),))] == 2
    assert m[("ws_connections", (("kind", "echo"),))] == 0
    key = ("http_request_duration_seconds_count", (("method", "POST"), ("route", "/v1/messages")))
    assert m[key] == n
    await alice.close()
    await bob.close()
    await demo.drain()
    # closing is asynchronous on the server side; the gauge follows within a moment
    for _ in range(50):
        m = _samples(await demo.metrics())
        if m[("ws_connections", (("kind", "messaging"),))] == 0:
            break
        await asyncio.sleep(0.02)
    assert m[("ws_connections", (("kind", "messaging"),))] == 0


def test_metrics_registries_are_per_app() -> None:
    a, b = create_app(), create_app()
    assert a[STATE].metrics.registry is not b[STATE].metrics.registry
