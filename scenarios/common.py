"""Shared pieces of the scenario catalog: logging in, auth headers, unique ids, metric
declarations, posting tracked messages, and the held-socket receivers with their senders.

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
* **Inboxes and their senders.** Message soak, large payloads and mixed load are the same
  machine with other numbers, bodies and checks: `Inboxes` (held sockets that own
  conversations and count what arrives) and `InboxSenders` (POST tracked messages only into
  conversations whose sockets are all open). A scenario file subclasses both and keeps only
  what makes it that scenario.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import orjson

from loadgen import ConstantVUs, Counter, Scenario, Trend
from loadgen.net.ws import WSError
from loadgen.options import format_duration, parse_duration
from loadgen.scripting.context import current_vu
from loadgen.testtypes import Shape, TestType

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


class Backoff:
    """Capped exponential backoff with jitter for a VU's reconnect loop.

    Without it a service that accepts and drops every socket at once (or refuses them) gets
    a reconnect storm: one VU spun 1,142 times a second. Wait `base` * 2^n seconds after the
    n-th consecutive failure, at most `cap`, jittered to between half and all of that (never
    near 0, so it cannot spin, and VUs that dropped together do not come back together). A
    session that stayed up `healthy_after` seconds resets it."""

    def __init__(self, base: float = 0.5, cap: float = 10.0, healthy_after: float = 10.0,
                 rng: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.healthy_after, self.rng = base, cap, healthy_after, rng
        self.failures = 0

    def delay(self) -> float:
        """The wait before the next attempt (and count this failure)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return ceiling * (0.5 + 0.5 * self.rng())

    def reset(self) -> None:
        self.failures = 0

    async def after_session(self, vu: Any, lasted_s: float) -> None:
        """A session ended: reset if it was healthy, else wait before reconnecting."""
        if lasted_s >= self.healthy_after:
            self.reset()
        else:
            await self.pause(vu)

    async def pause(self, vu: Any) -> None:
        """Wait `delay()` seconds on the run clock, cut short at the scenario's end (so a
        backed-off VU never holds the run past its duration)."""
        left = self.delay()
        while left > 0 and not vu.stopping:
            step = min(left, 0.25)
            await vu.sleep(step)
            left -= step


def reconnect_backoff(state: Any) -> Backoff:
    """The per-VU Backoff kept on a scenario instance (`self`, one per VU)."""
    b = getattr(state, "_backoff", None)
    if b is None:
        b = state._backoff = Backoff()
    return b


def copy_id(client_msg_id: Any, recipient: str) -> str:
    """The tracked id of one recipient's copy of a message that reaches several sockets."""
    return f"{client_msg_id}:{recipient}"


async def post_message(vu: Any, headers: dict[str, str], conv: str, client_msg_id: str,
                       body: str, *, recipients: Iterable[str] | None = None,
                       check: str = "message accepted (202)") -> bool:
    """POST /v1/messages, tracked from just before the request once it is accepted (202):
    as `client_msg_id`, or with `recipients` one copy each (`copy_id`). True if accepted."""
    t0 = vu.track.clock.now_ns()
    r = await vu.http.post("/v1/messages", headers=headers, name="POST /v1/messages",
                           json={"conversation_id": conv, "body": body,
                                 "client_msg_id": client_msg_id})
    if not vu.check(r, {check: lambda r: r.status == 202}):
        return False
    if recipients is None:
        vu.track.sent(client_msg_id, t0)
    else:
        for m in recipients:
            vu.track.sent(copy_id(client_msg_id, m), t0)
    return True


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
    """Mixin for scenarios using `loadgen.messaging.payloads.check`."""

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
    def shape(cls, o: Any) -> Shape:
        n = o.vus if (o.vus is not None and o.rps is None) else cls.sockets
        seconds = parse_duration(o.duration or cls.duration) / 1e9 + cls.linger
        return Shape(ConstantVUs(vus=n, duration=format_duration(round(seconds * 1e9))))


class Inboxes(Tracked, HeldSockets):
    """Held sockets that receive tracked messages (subclass with the numbers of a scenario).

    setup() logs in one user per socket (`role`-n) and puts them in conversations of `group`
    users each, created by the group's first user with the others and the `senders` as
    participants (`title`, with `{owner}` its creator). Each VU holds one user's socket
    (pinged every 10 s, reconnected when it drops) and passes every message frame to
    `received()`, which counts it delivered: by `client_msg_id`, or per copy
    (`client_msg_id:recipient`) when a group has several sockets.

    Which conversations have every socket open right now is class state shared with the
    scenario's `InboxSenders`, so a reconnecting receiver never turns into "lost" messages
    the service did not lose.
    """

    abstract = True
    delivery_grace = 5.0  # seconds a message may still arrive after the load before it is lost
    role: ClassVar[str] = "receiver"
    group: ClassVar[int] = 1  # sockets (users) per conversation
    title: ClassVar[str] = "inbox of {owner}"
    senders: ClassVar[list[str]] = []  # the other participants of every conversation

    _slots: ClassVar[Iterator[int]]
    members: ClassVar[dict[str, tuple[str, ...]]]  # conversation id -> its socket users
    connected: ClassVar[dict[str, set[str]]]  # conversation id -> its users online now
    ready: ClassVar[dict[str, bool]]  # the conversations whose every member is online
    any_ready: ClassVar[asyncio.Event]  # set once the first conversation is ready

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._slots = itertools.count()
        cls.members, cls.connected, cls.ready = {}, {}, {}
        cls.any_ready = asyncio.Event()

    @classmethod
    def shape(cls, o: Any) -> Shape:
        shape = super().shape(o)
        assert isinstance(shape.executor, ConstantVUs)
        cls._run_sockets = shape.executor.vus  # setup() makes exactly one user per socket
        return shape

    @classmethod
    def per_copy(cls) -> bool:
        """Whether a message is tracked per recipient (several sockets per conversation)."""
        return cls.group > 1

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        cls = type(self)
        n = getattr(cls, "_run_sockets", cls.sockets)
        users = [username(cls.role, i) for i in range(n)]
        tokens = await login_many(vu, users)
        groups = [users[i:i + cls.group] for i in range(0, n, cls.group)]
        sem = asyncio.Semaphore(20)

        async def create(g: list[str]) -> str:
            async with sem:
                conv = await create_conversation(vu, tokens[g[0]], [*g[1:], *cls.senders],
                                                 cls.title.format(owner=g[0]), strict=True)
            assert conv is not None
            return str(conv["id"])

        convs = await asyncio.gather(*(create(g) for g in groups))
        slots = []
        for conv, g in zip(convs, groups, strict=True):
            cls.members[conv] = tuple(g)
            cls.connected[conv] = set()
            slots += [(u, tokens[u], conv) for u in g]
        return {"slots": slots}

    def received(self, vu: Any, frame: dict[str, Any], user: str) -> None:
        """A message frame on `user`'s socket: delivered (override to check it first)."""
        cmid = frame.get("client_msg_id")
        vu.track.received(copy_id(cmid, user) if self.per_copy() else cmid)

    async def iteration(self, vu: Any) -> None:
        cls = type(self)
        if not hasattr(self, "slot"):
            slots = self.data["slots"]
            self.slot = slots[next(cls._slots) % len(slots)]
        user, token, conv = self.slot

        def on_message(msg: str | bytes) -> None:
            frame = frame_of(msg)
            if frame is not None and frame.get("type") == "message":
                self.received(vu, frame, user)

        backoff = reconnect_backoff(self)
        try:
            session = await vu.ws.connect("/v1/ws", headers=auth(token))
        except WSError:
            await backoff.pause(vu)  # counted in ws_errors; do not spin while it is down
            return
        t0 = time.monotonic()
        async with session:
            online = cls.connected[conv]
            online.add(user)
            if len(online) == len(cls.members[conv]):
                cls.ready[conv] = True
                cls.any_ready.set()
            try:
                await session.hold(ping_every=10.0, on_message=on_message)
            finally:
                online.discard(user)
                cls.ready.pop(conv, None)
        await backoff.after_session(vu, time.monotonic() - t0)  # dropped at once: no storm


class InboxSenders(Tracked, Scenario):
    """POSTs tracked messages into the conversations of `receivers` whose every socket is open
    right now, as one of its `senders` (a sender user per VU, taken in turn). Set `executor`
    and `receivers`, and write `body()`; `id_prefix` starts each `client_msg_id`, `accepted`
    names the check of the 202."""

    abstract = True
    default_base_url = DEFAULT_BASE_URL
    receivers: ClassVar[type[Inboxes]]
    id_prefix: ClassVar[str] = "m"
    accepted: ClassVar[str] = "message accepted (202)"
    waiting: ClassVar[str] = "a receiver is connected"  # the check failed if none ever is

    _slots: ClassVar[Iterator[int]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._slots = itertools.count()

    def body(self, client_msg_id: str) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define body(client_msg_id)")

    async def setup(self) -> dict[str, str]:
        return await login_many(setup_vu(), self.receivers.senders)

    async def iteration(self, vu: Any) -> None:
        rx = self.receivers
        if not hasattr(self, "token"):
            self.token = self.data[rx.senders[next(type(self)._slots) % len(rx.senders)]]
        try:  # only waits at the very start: the receivers connect within milliseconds
            async with asyncio.timeout(10.0):
                await rx.any_ready.wait()
        except TimeoutError:
            vu.check(None, {self.waiting: lambda _: False})
            return
        if not rx.ready:
            return  # every conversation has a socket reconnecting (counted as a disconnect)
        conv = random.choice(tuple(rx.ready))
        cmid = new_id(self.id_prefix)
        await post_message(vu, auth(self.token), conv, cmid, self.body(cmid),
                           recipients=rx.members[conv] if rx.per_copy() else None,
                           check=self.accepted)
