"""HTTP API of the demo service over real sockets: auth, CRUD, cache, validation, limits."""

from __future__ import annotations

import io
from typing import Any

import pytest
from demo_helpers import DemoClient, StartDemo

from loadgen.demo import DemoConfig, LatencyProfile

KIB = 1024


async def test_login_issues_token_and_protected_routes_need_it(demo: DemoClient) -> None:
    status, body = await demo.call(
        "POST", "/auth/login", json={"username": "alice", "password": "x"}
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["username"] == "alice"
    assert body["token"]

    for path in ("/v1/conversations", "/api/match/top"):
        status, body = await demo.call("GET", path)
        assert status == 401
        assert "error" in body
    async with demo.session.get(
        demo.base + "/v1/conversations", headers={"Authorization": "Bearer nope"}
    ) as resp:
        assert resp.status == 401
        assert "error" in await resp.json()
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    status, body = await demo.call("GET", "/v1/conversations", "alice")
    assert status == 200
    assert body == {"conversations": []}

    status, body = await demo.call("POST", "/auth/login", json={"username": "a", "password": ""})
    assert status == 401
    assert "error" in body


async def test_configured_password_rule(start_demo: StartDemo) -> None:
    demo = await start_demo(DemoConfig(password="s3cret"))
    status, _ = await demo.call("POST", "/auth/login", json={"username": "a", "password": "x"})
    assert status == 401
    creds = {"username": "a", "password": "s3cret"}
    status, _ = await demo.call("POST", "/auth/login", json=creds)
    assert status == 200


async def test_conversation_crud_versions_and_permissions(demo: DemoClient) -> None:
    status, conv = await demo.call(
        "POST", "/v1/conversations", "alice", json={"participants": ["bob"], "title": "t"}
    )
    assert status == 201
    assert conv["participants"] == ["alice", "bob"]
    assert conv["version"] == 1
    assert conv["creator"] == "alice"
    assert conv["title"] == "t"
    cid = conv["id"]
    path = f"/v1/conversations/{cid}"

    for user in ("alice", "bob"):
        status, listed = await demo.call("GET", "/v1/conversations", user)
        assert status == 200
        assert [c["id"] for c in listed["conversations"]] == [cid]
    status, got = await demo.call("GET", path, "bob")
    assert status == 200
    assert got["id"] == cid

    status, upd = await demo.call("PATCH", path, "bob", json={"version": 1, "title": "new"})
    assert status == 200
    assert upd["version"] == 2
    assert upd["title"] == "new"
    status, err = await demo.call("PATCH", path, "alice", json={"version": 1, "title": "late"})
    assert status == 409
    assert "version" in err["error"]

    # carol is not a participant: 403 on everything; unknown ids are 404
    for method, json in (("GET", None), ("PATCH", {"version": 2}), ("DELETE", None)):
        status, err = await demo.call(method, path, "carol", json=json)
        assert status == 403
        assert "error" in err
    status, _ = await demo.call("POST", path + "/participants", "carol", json={"participants": []})
    assert status == 403
    status, _ = await demo.call("GET", "/v1/conversations/doesnotexist", "alice")
    assert status == 404
    status, listed = await demo.call("GET", "/v1/conversations", "carol")
    assert listed == {"conversations": []}

    status, _ = await demo.call("DELETE", path, "bob")  # only the creator deletes
    assert status == 403
    status, _ = await demo.call("DELETE", path, "alice")
    assert status == 204
    status, _ = await demo.call("GET", path, "alice")
    assert status == 404


async def test_membership_changes_bump_version(demo: DemoClient) -> None:
    conv = await demo.conversation("alice")
    base = f"/v1/conversations/{conv['id']}"
    add = {"participants": ["bob"]}
    status, body = await demo.call("POST", base + "/participants", "alice", json=add)
    assert status == 200
    assert body["participants"] == ["alice", "bob"]
    assert body["version"] == 2
    status, _ = await demo.call("PATCH", base, "alice", json={"version": 1})
    assert status == 409
    status, body = await demo.call("DELETE", base + "/participants/bob", "alice")
    assert status == 200
    assert body["participants"] == ["alice"]
    assert body["version"] == 3


async def test_participant_cache_hits_misses_and_invalidation(demo: DemoClient) -> None:
    conv = await demo.conversation("alice", "bob", "carol")
    base = f"/v1/conversations/{conv['id']}"

    _, first = await demo.call("GET", base + "/participants", "bob")
    _, second = await demo.call("GET", base + "/participants", "bob")
    assert first["cache"] == "miss"
    assert second["cache"] == "hit"
    assert second["participants"] == ["alice", "bob", "carol"]
    _, stats = await demo.call("GET", "/admin/stats")
    assert stats["cache"]["hits"] >= 1
    assert stats["cache"]["misses"] >= 1

    # remove bob: the very next reads must see it (no stale cache entry)
    bob = {"participants": ["bob"]}
    status, _ = await demo.call("DELETE", base + "/participants", "alice", json=bob)
    assert status == 200
    status, _ = await demo.call("GET", base + "/participants", "bob")
    assert status == 403
    status, _ = await demo.call("GET", base, "bob")
    assert status == 403
    status, _ = await demo.call(
        "POST", "/v1/messages", "bob", json={"conversation_id": conv["id"], "body": "hi"}
    )
    assert status == 403
    _, view = await demo.call("GET", base + "/participants", "carol")
    assert view["participants"] == ["alice", "carol"]

    status, _ = await demo.call("POST", base + "/participants", "carol", json=bob)
    assert status == 200
    status, view = await demo.call("GET", base + "/participants", "bob")
    assert status == 200
    assert "bob" in view["participants"]


async def test_message_size_limit(demo: DemoClient) -> None:
    conv = await demo.conversation("alice")
    ok = {"conversation_id": conv["id"], "body": "x" * (64 * KIB), "client_msg_id": "c1"}
    status, ack = await demo.call("POST", "/v1/messages", "alice", json=ok)
    assert status == 202
    assert ack["id"]
    assert ack["client_msg_id"] == "c1"
    assert ack["recipients"] == 1

    escaped = {"conversation_id": conv["id"], "body": "\n" * (64 * KIB)}  # 128 KiB on the wire
    status, _ = await demo.call("POST", "/v1/messages", "alice", json=escaped)
    assert status == 202

    too_big = {"conversation_id": conv["id"], "body": "x" * (64 * KIB + 1)}
    status, err = await demo.call("POST", "/v1/messages", "alice", json=too_big)
    assert status == 413
    assert "error" in err

    multibyte = {"conversation_id": conv["id"], "body": "é" * (32 * KIB + 1)}
    status, err = await demo.call("POST", "/v1/messages", "alice", json=multibyte)
    assert status == 413

    huge = b'{"conversation_id": "x", "body": "' + b"y" * (1024 * KIB) + b'"}'
    status, err = await demo.call("POST", "/v1/messages", "alice", data=io.BytesIO(huge))
    assert status == 413
    assert "error" in err


BAD_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/auth/login", b"{not json"),
    ("POST", "/auth/login", {"username": 5, "password": "x"}),
    ("POST", "/auth/login", {"username": "a"}),
    ("POST", "/auth/login", [1, 2]),
    ("POST", "/v1/conversations", b""),
    ("POST", "/v1/conversations", b"\xff\xfe\x00garbage"),
    ("POST", "/v1/conversations", {"participants": "bob"}),
    ("POST", "/v1/conversations", {"participants": [1, 2]}),
    ("POST", "/v1/conversations", {"participants": ["x"], "title": {"a": 1}}),
    ("POST", "/v1/conversations", b"[" * 5000),
    ("POST", "/v1/messages", {"conversation_id": "nope", "body": "x"}),
    ("POST", "/v1/messages", {"conversation_id": 1, "body": "x"}),
    ("POST", "/v1/messages", {"conversation_id": "x"}),
    ("POST", "/v1/messages", {"conversation_id": "x", "body": None}),
    ("POST", "/v1/messages", {"conversation_id": "x", "body": "b", "client_msg_id": 7}),
    ("POST", "/v1/messages", b"null"),
    ("PATCH", "/v1/conversations/{cid}", {"title": "no version"}),
    ("PATCH", "/v1/conversations/{cid}", {"version": "1"}),
    ("PATCH", "/v1/conversations/{cid}", {"version": True}),
    ("PATCH", "/v1/conversations/{cid}", {"version": 1.5}),
    ("POST", "/v1/conversations/{cid}/participants", {"participants": None}),
    ("DELETE", "/v1/conversations/{cid}/participants", None),
    ("GET", "/v1/conversations/{cid}/messages?limit=abc", None),
    ("GET", "/api/match/top?limit=0", None),
    ("POST", "/api/outreach/start", {"targets": "all"}),
    ("POST", "/api/audit/run", b"[]"),
    ("POST", "/admin/faults", {"error_rate": 2}),
    ("POST", "/admin/faults", {"latency": 5}),
    ("POST", "/admin/faults", {"close_code": 1005}),
    ("PUT", "/v1/messages", None),
    ("GET", "/no/such/route", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), BAD_REQUESTS)
async def test_bad_requests_get_4xx_json(
    demo: DemoClient, method: str, path: str, payload: Any
) -> None:
    conv = await demo.conversation("alice")
    path = path.replace("{cid}", conv["id"])
    raw = payload if isinstance(payload, bytes) else None
    json = None if isinstance(payload, bytes) else payload
    status, body = await demo.call(method, path, "alice", json=json, data=raw)
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)


async def test_history_is_bounded(start_demo: StartDemo) -> None:
    demo = await start_demo(DemoConfig(history_limit=5, max_conversations=3))
    conv = await demo.conversation("alice")
    for i in range(8):
        body = {"conversation_id": conv["id"], "body": f"m{i}"}
        assert (await demo.call("POST", "/v1/messages", "alice", json=body))[0] == 202
    status, hist = await demo.call("GET", f"/v1/conversations/{conv['id']}/messages", "alice")
    assert status == 200
    assert [m["body"] for m in hist["messages"]] == [f"m{i}" for i in range(3, 8)]

    for _ in range(3):  # the oldest conversation is evicted past max_conversations
        await demo.conversation("alice")
    status, _ = await demo.call("GET", f"/v1/conversations/{conv['id']}", "alice")
    assert status == 404
    _, listed = await demo.call("GET", "/v1/conversations", "alice")
    assert len(listed["conversations"]) == 3


async def test_simulated_work_endpoints(start_demo: StartDemo) -> None:
    profile = LatencyProfile(median_ms=20.0, p95_ms=40.0)
    demo = await start_demo(DemoConfig(seed=3, work={"match": profile}))
    status, body = await demo.call("GET", "/api/match/top?limit=3", "alice")
    assert status == 200
    assert len(body["matches"]) == 3
    assert body["took_ms"] >= 5
    scores = [m["score"] for m in body["matches"]]
    assert scores == sorted(scores, reverse=True)
    status, body = await demo.call("POST", "/api/outreach/start", "alice", json={"targets": ["a"]})
    assert status == 202
    assert body["status"] == "started"
    assert body["targets"] == 1
    status, body = await demo.call("POST", "/api/outreach/start", "alice")
    assert status == 202
    status, body = await demo.call("POST", "/api/audit/run", "alice")
    assert status == 200
    assert body["passed"] == body["checks"]
