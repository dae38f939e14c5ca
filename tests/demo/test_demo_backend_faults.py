"""The backend faults against a real demo on 127.0.0.1: each switched on and off through
POST /admin/faults, its behaviour seen by a client and its series read from /metrics."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from demo_helpers import DemoClient, StartDemo, recv_json, recv_nothing

from loadgen.demo import DemoConfig, Faults
from loadgen.demo.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from loadgen.demo.migration import SchemaMigration
from loadgen.demo.pool import PoolTimeout, StoragePool


def sample(text: str, name: str, labels: str = "") -> float:
    """One series' value from the Prometheus text (labels as written, e.g. 'state="open"')."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
    m = re.search(r"^" + pattern + r"$", text, re.M)
    assert m, (name, labels)
    return float(m.group(1))


async def faults(demo: DemoClient, **body: Any) -> dict[str, Any]:
    status, out = await demo.call("POST", "/admin/faults", json=body)
    assert status == 200, out
    return out  # type: ignore[no-any-return]


async def raw(demo: DemoClient, method: str, path: str, user: str | None = None,
              json: Any = None) -> tuple[int, Any, dict[str, str]]:
    headers = await demo.auth(user) if user else {}
    async with demo.session.request(method, demo.base + path, json=json,
                                    headers=headers) as r:
        return r.status, await r.json(), dict(r.headers)


async def post(demo: DemoClient, conv: str, cmid: str) -> int:
    status, _ = await demo.call("POST", "/v1/messages", "bob",
                                json={"conversation_id": conv, "body": cmid,
                                      "client_msg_id": cmid})
    return status


async def health(demo: DemoClient) -> dict[str, Any]:
    status, body = await demo.call("GET", "/health")
    assert status == 200
    return body  # type: ignore[no-any-return]


# -- consumer stop / restart ------------------------------------------------------------------
async def test_a_stopped_consumer_keeps_messages_pending_and_redelivers_them(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, consumer={"stopped": True})
    assert [await post(demo, conv, f"m{i}") for i in range(3)] == [202] * 3
    await recv_nothing(ws, 0.2)
    text = await demo.metrics()
    assert sample(text, "messaging_consumer_pending") == 3
    assert sample(text, "messaging_consumer_running") == 0
    h = await health(demo)
    assert h["status"] == "degraded" and h["consumer"] == "stopped" and h["pending"] == 3
    await faults(demo)  # the set without `consumer`: restart
    got = [(await recv_json(ws))["client_msg_id"] for _ in range(3)]
    assert got == ["m0", "m1", "m2"]  # in order, once each
    await demo.drain()
    text = await demo.metrics()
    assert sample(text, "messaging_consumer_reclaimed_total") == 3
    assert sample(text, "messaging_consumer_pending") == 0
    assert (await health(demo))["status"] == "ok"
    assert await post(demo, conv, "after") == 202  # and it keeps consuming
    assert (await recv_json(ws))["client_msg_id"] == "after"
    await ws.close()


async def test_without_redelivery_the_pending_messages_are_dropped(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, consumer={"stopped": True, "redelivery": False})
    assert await post(demo, conv, "lost1") == 202
    assert await post(demo, conv, "lost2") == 202
    await faults(demo)
    await recv_nothing(ws, 0.2)
    text = await demo.metrics()
    # two messages, two recipients each (the sender is a participant too)
    assert sample(text, "messaging_outbox_dead_total", 'reason="not_redelivered"') == 4
    assert sample(text, "messaging_consumer_reclaimed_total") == 0
    assert await post(demo, conv, "kept") == 202
    assert (await recv_json(ws))["client_msg_id"] == "kept"
    await ws.close()


async def test_the_pending_list_is_bounded_by_the_outbox(start_demo: StartDemo):
    demo = await start_demo(DemoConfig(seed=1, queue_size=2))
    conv = (await demo.conversation("alice", "bob"))["id"]
    await faults(demo, consumer={"stopped": True})
    assert [await post(demo, conv, f"m{i}") for i in range(2)] == [202, 202]
    status, body, headers = await raw(demo, "POST", "/v1/messages", "bob",
                                      {"conversation_id": conv, "body": "x"})
    assert (status, body, headers["Retry-After"]) == (503, {"error": "outbox full"}, "1")


# -- broker partition -------------------------------------------------------------------------
async def test_a_partition_dead_letters_writes_and_the_heal_replays_them(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, partition={"dlq_max": 2})
    assert [await post(demo, conv, f"p{i}") for i in range(2)] == [202, 202]
    status, body, headers = await raw(demo, "POST", "/v1/messages", "bob",
                                      {"conversation_id": conv, "body": "x"})
    assert status == 503 and headers["Retry-After"] == "1"
    assert body == {"error": "broker partitioned and the dead-letter store is full"}
    await recv_nothing(ws, 0.2)
    text = await demo.metrics()
    assert sample(text, "messaging_dispatch_dlq_total") == 2
    assert sample(text, "messaging_dispatch_dlq_depth") == 2
    assert sample(text, "messaging_dispatch_dlq_rejected_total") == 1
    assert sample(text, "dependency_up", 'dependency="broker"') == 0
    assert (await health(demo))["broker"] == "partitioned"
    await faults(demo)  # heal
    assert [(await recv_json(ws))["client_msg_id"] for _ in range(2)] == ["p0", "p1"]
    text = await demo.metrics()
    assert sample(text, "messaging_dispatch_replayed_total") == 2
    assert sample(text, "messaging_dispatch_dlq_depth") == 0
    assert sample(text, "messaging_broker_partitioned") == 0
    await ws.close()


async def test_a_heal_without_replay_discards_the_dead_letters(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, partition={"replay": False})
    assert await post(demo, conv, "gone") == 202
    assert (await demo.call("DELETE", "/admin/faults"))[0] == 200  # DELETE heals too
    await recv_nothing(ws, 0.2)
    text = await demo.metrics()
    assert sample(text, "messaging_outbox_dead_total", 'reason="dlq_discarded"') == 2
    assert sample(text, "messaging_dispatch_replayed_total") == 0
    await ws.close()


async def test_a_replay_larger_than_the_outbox_goes_through_in_order(start_demo: StartDemo):
    demo = await start_demo(DemoConfig(seed=1, queue_size=2))
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, partition={}, consumer={})  # consumer stopped: the outbox stays full
    assert [await post(demo, conv, f"r{i}") for i in range(5)] == [202] * 5
    await faults(demo, consumer={})  # heal: 2 fit the outbox, 3 wait for room
    assert (await health(demo))["dlq"] == 3
    assert await post(demo, conv, "behind") == 202  # queues behind the replay
    await faults(demo)
    got = [(await recv_json(ws))["client_msg_id"] for _ in range(6)]
    assert got == ["r0", "r1", "r2", "r3", "r4", "behind"]
    await ws.close()


# -- storage pool and circuit breaker ---------------------------------------------------------
async def test_pool_exhaustion_opens_the_breaker_and_a_trial_closes_it(start_demo: StartDemo):
    demo = await start_demo(DemoConfig(seed=1, pool_size=3, pool_timeout_s=0.05,
                                       breaker_failures=2, breaker_cooldown_s=0.3))
    await demo.token("alice")
    await faults(demo, pool={"exhaust": True})
    await asyncio.sleep(0.01)  # the holder task takes the connections
    assert sample(await demo.metrics(), "storage_pool_in_use") == 3
    for _ in range(2):
        status, body, h = await raw(demo, "GET", "/v1/conversations", "alice")
        assert (status, body, h["Retry-After"]) == (503, {"error": "storage pool exhausted"},
                                                    "1")
    t0 = time.perf_counter()
    status, body, h = await raw(demo, "GET", "/v1/conversations", "alice")
    assert (status, body["error"]) == (503, "storage circuit open")
    assert time.perf_counter() - t0 < 0.04  # open: failing fast, not waiting for the pool
    assert h["Retry-After"] == "1"
    status, _ = await demo.call("GET", "/api/match/top", "alice")
    assert status == 200  # what needs no storage is served
    await faults(demo)  # connections back; the breaker stays open until its cool-down
    assert sample(await demo.metrics(), "storage_pool_in_use") == 0
    assert (await demo.call("GET", "/v1/conversations", "alice"))[0] == 503
    await asyncio.sleep(0.35)
    assert (await demo.call("GET", "/v1/conversations", "alice"))[0] == 200  # the trial
    text = await demo.metrics()
    for state, n in (("open", 1), ("half_open", 1), ("closed", 1)):
        assert sample(text, "storage_circuit_breaker_transitions_total",
                      f'state="{state}"') == n
    assert sample(text, "storage_pool_timeouts_total") == 2
    assert sample(text, "storage_circuit_breaker_state", 'state="closed"') == 1


async def test_slow_queries_hold_connections_until_the_pool_times_out(start_demo: StartDemo):
    demo = await start_demo(DemoConfig(seed=1, pool_size=1, pool_timeout_s=0.05,
                                       breaker_failures=0))
    await demo.token("alice")
    await faults(demo, pool={"query_ms": 300})
    statuses = await asyncio.gather(*(demo.call("GET", "/v1/conversations", "alice")
                                      for _ in range(3)))
    assert sorted(s for s, _ in statuses) == [200, 503, 503]
    assert sample(await demo.metrics(), "storage_circuit_breaker_transitions_total",
                  'state="open"') == 0  # breaker_failures 0: no breaker


def test_breaker_state_machine_on_a_fake_clock():
    now = [0.0]
    seen: list[tuple[str, str]] = []
    br = CircuitBreaker(2, 10.0, clock=lambda: now[0],
                        on_transition=lambda a, b: seen.append((a, b)))
    br.failure()
    br.success()  # a success resets the count: failures must be consecutive
    br.failure()
    assert br.state == CLOSED and br.allow()
    br.failure()
    assert br.state == OPEN and not br.allow() and br.retry_after_s() == 10
    now[0] = 9.5
    assert not br.allow() and br.retry_after_s() == 1
    now[0] = 10.0
    assert br.allow() and br.state == HALF_OPEN
    assert not br.allow()  # one trial at a time
    br.failure()  # the trial failed: open again, a new cool-down
    assert br.state == OPEN and not br.allow()
    now[0] = 20.0
    assert br.allow()
    br.abandon()  # the trial was cancelled: another may try
    assert br.allow()
    br.success()
    assert br.state == CLOSED
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN),
                    (HALF_OPEN, CLOSED)]


# -- dependency outage --------------------------------------------------------------------------
async def test_a_store_outage_answers_503_and_health_says_degraded(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    await faults(demo, outage={"store": True})
    status, body, h = await raw(demo, "GET", f"/v1/conversations/{conv}", "alice")
    assert (status, body, h["Retry-After"]) == (503, {"error": "dependency down: store"}, "1")
    assert (await demo.call("POST", "/v1/messages", "bob",
                            json={"conversation_id": conv, "body": "x"}))[0] == 503
    assert (await demo.call("GET", "/api/match/top", "alice"))[0] == 200
    assert (await demo.call("GET", "/healthz"))[0] == 200
    h2 = await health(demo)
    assert (h2["status"], h2["store"], h2["degraded"]) == ("degraded", "down", ["store"])
    assert sample(await demo.metrics(), "dependency_up", 'dependency="store"') == 0
    await faults(demo)
    assert (await demo.call("GET", f"/v1/conversations/{conv}", "alice"))[0] == 200
    assert (await health(demo))["status"] == "ok"


async def test_a_cache_outage_fails_only_the_cache_reads(demo: DemoClient):
    conv = (await demo.conversation("alice", "bob"))["id"]
    await faults(demo, outage={"cache": True})
    status, body = await demo.call("GET", f"/v1/conversations/{conv}/participants", "alice")
    assert (status, body) == (503, {"error": "dependency down: cache"})
    assert (await demo.call("GET", f"/v1/conversations/{conv}", "alice"))[0] == 200
    assert (await health(demo))["degraded"] == ["cache"]
    await faults(demo)
    assert (await demo.call("GET", f"/v1/conversations/{conv}/participants", "alice"))[0] == 200


# -- schema migration -----------------------------------------------------------------------
async def test_a_migration_makes_writes_wait_for_the_lock(demo: DemoClient):
    await demo.token("alice")
    await faults(demo, migration={"lock_s": 0.4, "write_timeout_s": 2})
    assert sample(await demo.metrics(), "migration_in_progress") == 1
    t0 = time.perf_counter()
    assert (await demo.call("GET", "/v1/conversations", "alice"))[0] == 200  # reads go on
    assert time.perf_counter() - t0 < 0.2
    await demo.conversation("alice", "bob")  # the write waited for the lock
    assert 0.3 < time.perf_counter() - t0 < 1.5
    assert sample(await demo.metrics(), "migration_in_progress") == 0


async def test_a_write_past_its_deadline_is_a_503_and_clearing_ends_the_lock(demo: DemoClient):
    await demo.token("alice")
    await faults(demo, migration={"lock_s": 30, "write_timeout_s": 0.1})
    t0 = time.perf_counter()
    status, body, h = await raw(demo, "POST", "/v1/conversations", "alice", {"participants": []})
    assert (status, body["error"]) == (503, "write blocked by schema migration")
    assert 0.09 < time.perf_counter() - t0 < 1.0 and int(h["Retry-After"]) >= 29
    assert sample(await demo.metrics(), "migration_writes_rejected_total") == 1
    assert (await health(demo))["migration"]["in_progress"] is True
    await faults(demo)
    assert sample(await demo.metrics(), "migration_in_progress") == 0
    await demo.conversation("alice", "bob")


# -- the fault bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "message"), [
    ({"consumer": {"stoped": True}}, "unknown field consumer.stoped"),
    ({"pool": {"exhaust": 1}}, "pool.exhaust must be true or false"),
    ({"partition": {"dlq_max": 0}}, "partition.dlq_max must be an integer in [1, 1000000]"),
    ({"migration": {"lock_s": -1}}, "migration.lock_s must be a number in [0, 300]"),
    ({"outage": "store"}, "outage must be a JSON object or null"),
])
async def test_bad_fault_bodies_are_a_400_naming_the_field(demo: DemoClient, body, message):
    status, out = await demo.call("POST", "/admin/faults", json=body)
    assert status == 400 and message in out["error"], out
    assert (await health(demo))["status"] == "ok"  # nothing half-applied


async def test_get_faults_shows_the_backend_faults(demo: DemoClient):
    out = await faults(demo, outage={"store": True}, migration={"lock_s": 1})
    assert out["outage"] == {"store": True, "cache": False}
    assert out["migration"] == {"lock_s": 1.0, "write_timeout_s": 1.0}
    assert out["consumer"] is None and out["pool"] is None


# -- bounds and start-up ----------------------------------------------------------------------
async def test_pool_and_lock_waiters_are_bounded_in_number():
    pool = StoragePool(1, 5.0, max_waiters=1)
    async with pool.connection():
        first = asyncio.create_task(pool.connection().__aenter__())
        await asyncio.sleep(0)
        assert pool.waiting == 1
        t0 = time.perf_counter()
        with pytest.raises(PoolTimeout, match="1 requests already wait"):
            async with pool.connection():
                pass
        assert time.perf_counter() - t0 < 0.05  # refused at once, not after the 5 s timeout
    await first  # it got the connection when the holder gave it back
    assert pool.in_use == 1
    mig = SchemaMigration(max_waiters=1)
    mig.start(5.0, 5.0)
    waiter = asyncio.create_task(mig.writable())
    await asyncio.sleep(0)
    assert await mig.writable() is False  # the second writer is refused at once
    mig.finish()
    assert await waiter is True


async def test_backend_faults_given_at_start_up_are_on_from_the_first_request(
        start_demo: StartDemo):
    config = DemoConfig(seed=1, faults=Faults.from_dict({"outage": {"store": True},
                                                         "consumer": {}}))
    demo = await start_demo(config)
    await demo.token("alice")
    assert (await demo.call("GET", "/v1/conversations", "alice"))[0] == 503
    h = await health(demo)
    assert h["degraded"] == ["store", "consumer"] and h["consumer"] == "stopped"
    await faults(demo)
    assert (await demo.call("GET", "/v1/conversations", "alice"))[0] == 200
    assert (await health(demo))["status"] == "ok"


async def test_drain_waits_for_a_replay_still_under_way(start_demo: StartDemo):
    demo = await start_demo(DemoConfig(seed=1, queue_size=1))
    conv = (await demo.conversation("alice", "bob"))["id"]
    ws = await demo.ws("alice")
    await faults(demo, partition={})
    assert [await post(demo, conv, f"d{i}") for i in range(6)] == [202] * 6
    await faults(demo)  # heal: 1 fits the outbox, 5 are replayed as room frees
    await demo.drain()
    assert (await health(demo))["dlq"] == 0  # drained means the replay too
    assert [(await recv_json(ws))["client_msg_id"] for _ in range(6)] == [
        f"d{i}" for i in range(6)]
    await ws.close()


def test_bad_pool_and_breaker_flags_are_refused_by_name():
    from loadgen.demo.__main__ import build_parser, config_from_args

    args = build_parser().parse_args(["--pool-size", "0", "--breaker-cooldown", "-1"])
    with pytest.raises(ValueError, match=r"--pool-size must be in \[1, 100000\]; "
                                         r"--breaker-cooldown must be in \[0, 3600\]"):
        config_from_args(args)
    ok = config_from_args(build_parser().parse_args(["--pool-size", "4", "--breaker-failures",
                                                     "0", "--breaker-cooldown", "0.5"]))
    assert (ok.pool_size, ok.breaker_failures, ok.breaker_cooldown_s) == (4, 0, 0.5)
