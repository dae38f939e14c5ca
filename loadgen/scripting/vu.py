"""The VU handle: everything a scenario touches (http, check, group, sleep, tags, metrics).

A VU is a plain object, not a task or a runtime: thousands cost a few MB. Its sample tags are
computed once and recomputed only when the group or the user's VU tags change, because every
request and check reads them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from loadgen.errors import TestAborted
from loadgen.messaging.track import DeliveryTracker
from loadgen.metrics.model import SAMPLE, TagSet, merge_tags, tagset
from loadgen.net.client import HttpClient
from loadgen.net.meter import Meter
from loadgen.scripting import fast_check
from loadgen.scripting.scope import MetricDecl, ScenarioScope

if TYPE_CHECKING:  # loaded on first vu.ws use: the websockets library costs ~4 MiB
    from loadgen.net.ws import WSClient

log = logging.getLogger("loadgen")
_CHECKS_PER_VU = 256  # distinct check names kept per VU (a bound, for generated names)


class TagDict(dict[str, str]):
    """`vu.tags`: a dict that tells its VU when it changes (VU-level tags, k6's
    exec.vu.metrics.tags)."""

    __slots__ = ("_vu",)

    def __init__(self, vu: VU) -> None:
        super().__init__()
        self._vu = vu

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, str(value))
        self._vu.retag()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._vu.retag()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update({k: str(v) for k, v in dict(*args, **kwargs).items()})
        self._vu.retag()

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._vu.retag()
        return value

    def clear(self) -> None:
        super().clear()
        self._vu.retag()


class VU:
    """One virtual user of one scenario.

    Its clients (`http`, `ws`) record through its `meter`, never through the VU itself, so
    the network layer does not depend on this one."""

    __slots__ = ("id", "id_in_test", "iteration", "iteration_in_test", "scenario", "rt", "tags",
                 "group_path", "data", "http", "_ws", "instance", "meter", "sample_tags",
                 "_check_tags", "_check_to", "__weakref__")

    def __init__(self, vu_id: int, rt: ScenarioScope, *, group: str = "") -> None:
        self.id = vu_id
        self.iteration = -1  # index of the current iteration in this VU (k6's __ITER)
        # k6's exec.vu.idInTest / exec.scenario.iterationInTest: unique across the instances
        # of a test split with --execution-segment (ids as vu.id when it is not split)
        self.id_in_test = vu_id
        self.iteration_in_test = -1
        self.rt = rt
        self.scenario = rt.name
        self.tags = TagDict(self)
        self.group_path = group
        self.data: Any = rt.setup_data
        #: run tags + scenario tags + scenario/group + VU tags, interned; kept current by
        #: retag() (a plain attribute: every request, check and iteration reads it)
        self.sample_tags: TagSet = ()
        #: check name -> its tag set under the current sample tags (emptied when they change)
        self._check_tags: dict[str, TagSet] = {}
        self.retag()
        #: (recorder, `checks` metric) for the C check (fast_check.py) when the clock is
        #: the real one (it reads perf_counter_ns as RealClock does); None: py_check runs
        self._check_to: tuple[Any, Any] | None = fast_check.target(rt)
        self.instance: Any = None
        self.meter: Meter = rt.new_meter(self)
        self.http: HttpClient = rt.new_http_client(self.meter)
        self._ws: WSClient | None = None

    # -- tags ---------------------------------------------------------------------------
    def retag(self) -> None:
        """Rebuild sample_tags after the group or the VU's tags changed (rare), so reading
        them (three times per HTTP iteration) is an attribute read, not a property call."""
        d = dict(self.rt.base_tags)
        d["group"] = self.group_path
        d.update(self.tags)
        self.sample_tags = tagset(d)
        self._check_tags = {}

    @property
    def bytes_sent(self) -> int:
        """Wire bytes sent since the last iteration end (emitted as data_sent there)."""
        return self.meter.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.meter.bytes_received

    @property
    def ws(self) -> WSClient:
        """k6's WebSocket API for this VU (loadgen/net/ws/), made on first use."""
        if self._ws is None:
            self._ws = self.rt.new_ws_client(self.meter)
        return self._ws

    @property
    def stopping(self) -> bool:
        """True once the scenario's own duration is over (iterations should wrap up)."""
        end = self.rt.end_ns
        return end is not None and self.rt.clock.now_ns() >= end

    async def until_end(self) -> None:
        """Sleep until the scenario's own duration ends (for iterations that hold a socket
        or a session open for the whole run and then finish cleanly)."""
        if self.rt.end_ns is not None:
            await self.rt.clock.sleep_until(self.rt.end_ns)

    @property
    def track(self) -> DeliveryTracker:
        """The run-wide delivery tracker (loadgen/messaging/track.py): sent/received ids."""
        return self.rt.delivery_tracker()

    @property
    def env(self) -> Mapping[str, str]:
        return self.rt.env

    # -- the scenario-facing API ---------------------------------------------------------
    def check(self, value: Any, checks: Mapping[str, Callable[[Any], Any]],
              tags: dict[str, str] | None = None) -> bool:
        """k6's check(): one `checks` sample per condition; True when all passed.

        A condition that raises counts as failed (and is logged once per check name), so a
        broken check never kills the iteration silently.
        """
        ok_all = True
        rt = self.rt
        now = rt.clock.now_ns()
        base = self.sample_tags
        mine = self._check_tags
        records = rt.recorder.records
        m_checks = rt.m_checks
        for name, cond in checks.items():
            try:
                ok = bool(cond(value))
            except Exception as e:  # noqa: BLE001 - a failing predicate is a failed check
                ok = False
                self._check_raised(name, e)
            ok_all = ok_all and ok
            ts = None if tags else mine.get(name)
            if ts is None:
                ts = self._check_tagset(base, name, tags)
            # Recorder.sample's record, appended here: a check runs once per request
            records.append((SAMPLE, now, m_checks, 1.0 if ok else 0.0, ts))
        return ok_all

    #: the Python twin, under a name of its own where the C check replaces `check`
    py_check = check

    def _check_raised(self, name: str, e: Exception) -> None:
        """A condition raised: its check failed; logged once per check name."""
        self.rt.log_once(f"check:{name}", f"check {name!r} raised {type(e).__name__}: {e}")

    def _check_tagset(self, base: TagSet, name: str, tags: dict[str, str] | None) -> TagSet:
        """The tag set of check `name`: from the scenario's shared cache, and kept per VU
        (while its tags stay the same) when the call adds no tags of its own."""
        key = ("check", base, name, tuple(tags.items()) if tags else None)
        cache = self.rt.tag_cache
        ts = cache.get(key)
        if ts is None:
            ts = cache[key] = merge_tags(base, {"check": name}, tags)
        if not tags and len(self._check_tags) < _CHECKS_PER_VU:
            self._check_tags[name] = ts
        return ts

    @asynccontextmanager
    async def group(self, name: str) -> AsyncIterator[None]:
        """k6's group(): nests the `group` tag and records group_duration."""
        if "::" in name:
            raise ValueError(f"group name {name!r} must not contain '::'")
        parent = self.group_path
        self.group_path = f"{parent}::{name}"
        self.retag()
        t0 = self.rt.clock.now_ns()
        try:
            yield
        finally:
            t1 = self.rt.clock.now_ns()
            self.rt.recorder.sample(self.rt.m_group_duration, (t1 - t0) / 1e6, self.sample_tags,
                                    t1)
            self.group_path = parent
            self.retag()

    async def sleep(self, seconds: float) -> None:
        """k6's sleep(), on the run's clock (virtual in tests)."""
        await self.rt.clock.sleep(seconds)

    def add_metric(self, metric: MetricDecl, value: float,
                   tags: dict[str, str] | None = None) -> None:
        m = self.rt.metric_for(metric)
        t = merge_tags(self.sample_tags, tags)
        self.rt.recorder.sample(m, value, t, self.rt.clock.now_ns())

    def abort(self, reason: str = "test aborted") -> None:
        """k6's exec.test.abort(): stop the whole test now, exit code 108."""
        raise TestAborted(reason)

    def __repr__(self) -> str:
        return f"<VU {self.id} of {self.scenario}>"


fast_check.install(VU)
