"""Shared pieces of the scenario catalog: logging in, auth headers, unique ids, metric
declarations, and the held-socket receivers.

Why these exist rather than being copied into every file:

* **Run-unique names.** Every username and client message id carries `RUN` (a random nonce
  per loadgen process), so re-running a scenario against a long-lived demo never mixes this
  run's conversations or deliveries with an earlier run's.
* **setup() talks HTTP through its own VU.** `setup_vu()` is the VU loadgen runs setup()
  on; its `http` client has the scenario's base URL, and what it sends is tagged
  `group=::setup` as in k6.
* **Receivers that --rps does not turn into senders.** `loadgen run --rps N` makes every
  plain scenario an arrival-rate one. Sockets that must stay open for the whole run are a
  `HeldSockets` test type instead: a test type brings its own load shape, so `--rps` only
  drives the senders while the sockets stay one per VU (`--vus` sets their number when no
  `--rps` is given).
* **Tracker metrics declared up front.** The delivery tracker, `vu.ws` and the payload checks
  create their metrics lazily, during the run; thresholds are validated before it. Declaring
  them as class attributes of the mixins below registers them when the file loads, so
  `--thresholds` files naming `messages_lost` or `payload_corruptions` validate.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, ClassVar

import orjson

from loadgen import ConstantVUs, Counter, Trend
from loadgen.context import current_vu
from loadgen.kinds import TestType
from loadgen.options import format_duration, parse_duration

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
PASSWORD = "catalog-secret"  # the demo accepts any non-empty password unless pinned
RUN = uuid.uuid4().hex[:8]

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A process-wide unique id: `prefix-RUN-n`."""
    return f"{prefix}-{RUN}-{next(_ids)}"


def username(role: str, i: int) -> str:
    return f"{role}-{RUN}-{i}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def setup_vu() -> Any:
    """The VU running setup()/teardown() (its `http` client carries the scenario's base URL)."""
    vu = current_vu.get()
    if vu is None:
        raise RuntimeError("setup_vu() called outside setup(), teardown() or an iteration")
    return vu


async def login(vu: Any, user: str, *, strict: bool = False) -> str | None:
    """POST /auth/login; the token, or None (checked as "login ok"). `strict` (for setup):
    raise instead, so a missing demo fails the run at once (exit 107) with the reason."""
    r = await vu.http.post("/auth/login", json={"username": user, "password": PASSWORD},
                           name="POST /auth/login")
    ok = vu.check(r, {"login ok": lambda r: r.status == 200})
    if not ok:
        if strict:
            why = r.error or r.text()[:200]
            raise RuntimeError(f"login of {user} failed: HTTP {r.status} {why} "
                               f"(is the demo running at {vu.http.base_url}?)")
        return None
    return str(r.json()["token"])


async def login_many(vu: Any, users: list[str], *, parallel: int = 20) -> dict[str, str]:
    """Log every user in (setup), `parallel` at a time; {user: token}."""
    sem = asyncio.Semaphore(parallel)

    async def one(u: str) -> tuple[str, str]:
        async with sem:
            return u, str(await login(vu, u, strict=True))

    return dict(await asyncio.gather(*(one(u) for u in users)))


async def create_conversation(vu: Any, token: str, participants: list[str], title: str = "",
                              *, strict: bool = False) -> dict[str, Any] | None:
    r = await vu.http.post("/v1/conversations", headers=auth(token),
                           json={"title": title, "participants": participants},
                           name="POST /v1/conversations")
    ok = vu.check(r, {"conversation created": lambda r: r.status == 201})
    if not ok:
        if strict:
            raise RuntimeError(f"creating a conversation failed: HTTP {r.status} {r.text()[:200]}")
        return None
    return dict(r.json())


def frame_of(msg: str | bytes) -> dict[str, Any] | None:
    """A delivery frame from /v1/ws as a dict (None for anything that is not JSON)."""
    try:
        doc = orjson.loads(msg)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


class Tracked:
    """Mixin for scenarios using `vu.track`: declares the tracker's metrics at load time."""

    delivery_latency = Trend("delivery_latency", True)
    messages_sent = Counter("messages_sent")
    messages_delivered = Counter("messages_delivered")
    messages_lost = Counter("messages_lost")
    messages_duplicated = Counter("messages_duplicated")
    messages_untracked = Counter("messages_untracked")
    messages_unmatched = Counter("messages_unmatched")


class Sockets:
    """Mixin for scenarios using `vu.ws`: declares the metrics it adds beyond k6's."""

    ws_unexpected_disconnects = Counter("ws_unexpected_disconnects")
    ws_errors = Counter("ws_errors")
    ws_send_wait = Trend("ws_send_wait", True)


class Payloads:
    """Mixin for scenarios using `loadgen.payloads.check`."""

    payload_checks = Counter("payload_checks")
    payload_corruptions = Counter("payload_corruptions")


class HeldSockets(Sockets, TestType):
    """One long-lived WebSocket per VU for the whole run, whatever `--rps` says.

    `sockets` VUs for `duration` plus `linger`; `--duration` replaces the duration, `--vus`
    the number of sockets (only without `--rps`: with it, `--vus` is the senders'
    pre-allocation). The linger keeps the sockets reading while the senders' last requests
    are still in flight: a message acknowledged after every socket closed would be "lost"
    by the test itself, not by the service.
    """

    abstract = True
    kind = "sockets"
    default_base_url = DEFAULT_BASE_URL
    sockets: ClassVar[int] = 50
    duration: ClassVar[str] = "30m"
    linger: ClassVar[float] = 1.0
    weight = 0.0  # no share of a global --rps: all of it goes to the senders

    @classmethod
    def shape(cls, o: Any) -> ConstantVUs:
        n = o.vus if (o.vus is not None and o.rps is None) else cls.sockets
        seconds = parse_duration(o.duration or cls.duration) / 1e9 + cls.linger
        return ConstantVUs(vus=n, duration=format_duration(round(seconds * 1e9)))
