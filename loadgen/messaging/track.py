"""Delivery tracking: did every message sent (e.g. by HTTP POST) arrive on some socket, how
fast, and how many were lost or duplicated?

One tracker per run (`vu.track`), shared by every scenario, because the sender (an HTTP
scenario) and the receivers (WebSocket scenarios) are different VUs. All times are on the run
clock, so fake-clock tests are exact.

Why it is shaped like this:

* **Only outstanding ids are kept**, capped (`cap`, default 1,000,000): past it a message is
  counted `messages_untracked` and logged once, never stored. Memory stays bounded in a soak.
* **Receipts can beat the sender's acknowledgement** (the push leaves the server before the
  HTTP response does), so unknown ids are remembered for `early_ttl` seconds; a later
  `sent()` of that id is delivered at once (latency clamped at 0 if the receipt came first).
  Unknown ids never matched in that window count as `messages_unmatched`.
* **Duplicates** are recognised for the last `dup_window` delivered ids (their hashes, in
  blocks: ~8 bytes per id, see recent.py), so a duplicate arriving much later is seen as an
  unmatched receipt instead.
* **Lost = not received within a grace period after the run**: the engine awaits `settle()`,
  which waits up to `grace` seconds (default 5; a Scenario class attribute `delivery_grace`,
  or `tracker.grace`) for outstanding ids, then counts the rest as `messages_lost`.
  Sockets must still be reading then: `WSSession.hold()` keeps reading past its scenario's end
  while the tracker has outstanding ids. The grace window starts once, at the first of those
  (a draining socket or settle()), so their waits never add up; receiving scenarios should
  therefore last at least as long as the sending ones.

Samples carry the sender's tags (scenario, group, VU tags, plus `tags=` given to `sent`), so
`delivery_latency{scenario:post}` works; duplicates and unmatched receipts carry the
receiver's. Fan-out (one message to N sockets) is N-1 duplicates per message: track
per-recipient ids (`f"{msg_id}:{user}"`) when every copy matters.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Mapping

from loadgen.clock import Clock, wait_first
from loadgen.messaging.recent import RecentHashes
from loadgen.metrics.model import Contains, MetricType, TagSet, merge_tags, tagset
from loadgen.metrics.registry import Recorder, Registry

DEFAULT_GRACE_S = 5.0
DEFAULT_CAP = 1_000_000
EARLY_TTL_S = 30.0
DUP_WINDOW = 100_000


def _nobody() -> None:
    return None


def _log_nowhere(key: str, message: str) -> None:
    return None


class DeliveryTracker:
    """Run-wide sent/received bookkeeping with k6-style metrics (all thresholdable)."""

    def __init__(self, clock: Clock, recorder: Recorder, registry: Registry, *,
                 run_tags: Mapping[str, str] | None = None,
                 caller_tags: Callable[[], TagSet | None] = _nobody,
                 caller_grace: Callable[[], tuple[object, float | None] | None] = _nobody,
                 log_once: Callable[[str, str], None] = _log_nowhere,
                 grace: float | None = None, cap: int = DEFAULT_CAP,
                 early_ttl: float = EARLY_TTL_S, dup_window: int = DUP_WINDOW) -> None:
        """`caller_tags` and `caller_grace` tell who calls sent()/received(): the current
        VU's sample tags, and its scenario (any hashable key) with that scenario's
        `delivery_grace`; both None outside an iteration. The execution layer wires them, so
        this module knows nothing about VUs."""
        self.clock = clock
        self.recorder = recorder
        self._caller_tags_of = caller_tags
        self._caller_grace = caller_grace
        self._log_once = log_once
        self.cap = cap
        self.early_ttl = early_ttl
        self.dup_window = dup_window
        self._grace = grace
        self._class_graces: dict[object, float] = {}
        self._seen: set[object] = set()
        self._deadline: int | None = None
        reg = registry
        C, T, D, TM = MetricType.COUNTER, MetricType.TREND, Contains.DEFAULT, Contains.TIME
        self.m_latency = reg.define("delivery_latency", T, TM)
        self.m_sent = reg.define("messages_sent", C, D)
        self.m_delivered = reg.define("messages_delivered", C, D)
        self.m_lost = reg.define("messages_lost", C, D)
        self.m_duplicated = reg.define("messages_duplicated", C, D)
        self.m_untracked = reg.define("messages_untracked", C, D)
        self.m_unmatched = reg.define("messages_unmatched", C, D)
        self._run_tags = tagset(dict(run_tags or {}))
        self._out: dict[Hashable, tuple[int, TagSet]] = {}  # id -> (sent ns, sender tags)
        self._early: OrderedDict[Hashable, int] = OrderedDict()  # id -> first receipt ns
        self._done = RecentHashes(dup_window)  # recently delivered ids (their hashes)
        self._idle: asyncio.Event | None = None
        self.counts: Counter[str] = Counter()
        #: per second of the run clock (t // 1e9), messages sent and, once settled, lost
        #: by their send time: what a window of the run (a fault, its recovery) cost. One
        #: entry per second at most: bounded by the run's length, not its traffic
        self.sent_by_second: Counter[int] = Counter()
        self.lost_by_second: Counter[int] = Counter()

    # -- configuration --------------------------------------------------------------------
    @property
    def grace(self) -> float:
        """Seconds to wait for outstanding messages after the load ends: the explicit value,
        else the largest `delivery_grace` of the scenarios that used the tracker, else 5."""
        if self._grace is not None:
            return self._grace
        return max(self._class_graces.values(), default=DEFAULT_GRACE_S)

    @grace.setter
    def grace(self, seconds: float) -> None:
        self._grace = float(seconds)

    def grace_deadline(self) -> int:
        """The end of the grace period (run clock), started by the first caller: the first
        socket that drains at its scenario's end, else settle(). One window for everyone, so
        draining sockets and settle() never add their waits up."""
        if self._deadline is None:
            self._deadline = self.clock.now_ns() + round(self.grace * 1e9)
        return self._deadline

    @property
    def outstanding(self) -> int:
        return len(self._out)

    def _caller_tags(self) -> TagSet:
        tags = self._caller_tags_of()
        if tags is None:
            return self._run_tags
        who = self._caller_grace()
        if who is not None and who[0] not in self._seen:
            self._seen.add(who[0])
            if who[1] is not None:
                self._class_graces[who[0]] = float(who[1])
        return tags

    # -- the two events -------------------------------------------------------------------
    def sent(self, msg_id: Hashable, t_ns: int | None = None, *,
             tags: Mapping[str, str] | None = None) -> None:
        """The message left (call when the POST is acknowledged; pass the POST's start as
        `t_ns` to measure from there)."""
        now = self.clock.now_ns()
        t = now if t_ns is None else t_ns
        ts = self._caller_tags()
        ts = merge_tags(ts, tags)
        self.counts["sent"] += 1
        self.sent_by_second[t // 1_000_000_000] += 1
        self.recorder.sample(self.m_sent, 1.0, ts, now)
        early = self._early.pop(msg_id, None)
        if early is not None:
            self._deliver(msg_id, t, ts, early, now)
            return
        if msg_id not in self._out and len(self._out) >= self.cap:
            self._untracked(ts, now, f"{len(self._out)} messages outstanding")
            return
        self._out[msg_id] = (t, ts)
        if self._idle is not None and self._idle.is_set():
            self._idle.clear()

    def received(self, msg_id: Hashable, t_ns: int | None = None) -> bool:
        """The message arrived (on any socket). True for the first receipt of a sent id."""
        now = self.clock.now_ns()
        t = now if t_ns is None else t_ns
        ts = self._caller_tags()  # also learns the receiving scenario's delivery_grace
        got = self._out.pop(msg_id, None)
        if got is not None:
            self._deliver(msg_id, got[0], got[1], t, now)
            if not self._out and self._idle is not None:
                self._idle.set()
            return True
        if msg_id in self._done or msg_id in self._early:
            self.counts["duplicated"] += 1
            self.recorder.sample(self.m_duplicated, 1.0, ts, now)
            return False
        self._expire(now)
        if len(self._early) >= self.cap:
            self._untracked(ts, now, "early receipts at the cap")
            return False
        self._early[msg_id] = t
        return False

    def _deliver(self, msg_id: Hashable, t_sent: int, tags: TagSet, t_recv: int,
                 now: int) -> None:
        self.counts["delivered"] += 1
        self.recorder.sample(self.m_latency, max(0, t_recv - t_sent) / 1e6, tags, now)
        self.recorder.sample(self.m_delivered, 1.0, tags, now)
        self._done.add(msg_id)

    def _untracked(self, tags: TagSet, now: int, why: str) -> None:
        self.counts["untracked"] += 1
        self.recorder.sample(self.m_untracked, 1.0, tags, now)
        self._log_once("track:cap", f"delivery tracker: {why} (cap {self.cap}); further "
                          "messages are counted as messages_untracked, not tracked")

    def _expire(self, now: int, *, everything: bool = False) -> None:
        """Forget early receipts older than early_ttl: they never matched a sent()."""
        early = self._early
        limit = now - round(self.early_ttl * 1e9)
        n = 0
        while early and (everything or next(iter(early.values())) < limit):
            early.popitem(last=False)
            n += 1
        if n:
            self.counts["unmatched"] += n
            self.recorder.sample(self.m_unmatched, float(n), self._run_tags, now)

    # -- the end of the run ---------------------------------------------------------------
    async def wait_idle(self, deadline_ns: int) -> bool:
        """Wait (run clock) until nothing is outstanding or the deadline; True if idle."""
        clock = self.clock
        while self._out and clock.now_ns() < deadline_ns:
            if self._idle is None:
                self._idle = asyncio.Event()
            self._idle.clear()
            await wait_first(clock, deadline_ns, self._idle.wait())
        return not self._out

    async def settle(self, grace: float | None = None) -> int:
        """Wait for outstanding messages until the grace period ends (`grace` seconds from now
        when given), then count the rest lost. Returns the number lost now. messages_lost is
        always sampled (0 too) so it shows in summaries."""
        clock = self.clock
        if grace is None:
            deadline = self.grace_deadline()
        else:
            deadline = clock.now_ns() + round(grace * 1e9)
        await self.wait_idle(deadline)
        now = clock.now_ns()
        by_tags = Counter(tags for _, tags in self._out.values())
        self.lost_by_second.update(t // 1_000_000_000 for t, _ in self._out.values())
        lost = len(self._out)
        self._out.clear()
        for tags, n in by_tags.items():
            self.recorder.sample(self.m_lost, float(n), tags, now)
        if not lost:
            self.recorder.sample(self.m_lost, 0.0, self._run_tags, now)
        if not self.counts["duplicated"]:
            self.recorder.sample(self.m_duplicated, 0.0, self._run_tags, now)
        self.counts["lost"] += lost
        self._expire(now, everything=True)
        self._deadline = None
        return lost

    def window(self, t0_ns: int, t1_ns: int) -> tuple[int, int]:
        """(sent, lost) of the messages sent in [t0_ns, t1_ns), to the second."""
        seconds = range(t0_ns // 1_000_000_000, -(-t1_ns // 1_000_000_000))
        return (sum(self.sent_by_second.get(s, 0) for s in seconds),
                sum(self.lost_by_second.get(s, 0) for s in seconds))

    def __repr__(self) -> str:
        return (f"<DeliveryTracker outstanding={len(self._out)} early={len(self._early)} "
                f"{dict(self.counts)}>")
