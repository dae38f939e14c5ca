"""Shared pieces of the resilience plans (tests 7-13): the storage traffic mix and the fault
switch that breaks the reference service mid-run and measures how it comes back.

Why they look like this:

* **The switch is a scenario of its own.** `FaultSwitch` is one VU, one iteration, started
  half-way through the run (`at`, of `--duration` or the plans' 10 minutes): it POSTs the fault to
  /admin/faults, holds it `FAULT_S` seconds, heals it (`POST /admin/faults {}`), then polls
  /health every 100 ms until the scenario's `recovered()` says the service is back, and
  records that as `recovery_time` (or counts `recovery_missed` after `RECOVERY_WAIT_S`,
  default the plan's gate, or at the end of its run). Its requests carry its own `scenario`
  tag, so the gates (`{scenario:storage}`, `{scenario:senders}`) never judge them.
  `faults_switched` counts the faults really switched on: a gate `count>0` on it keeps a
  switch that never ran (a wrong URL, a typo in the fault) from passing vacuously.
* **Environment, not edits, scales a run** (`RATE=50 FAULT_S=1 loadgen run ... --duration
  6s`): `RATE` (the traffic's arrival rate), `FAULT_S`, `RECOVERY_WAIT_S` and `FAULT_JSON`
  (a whole fault set replacing the scenario's own: how a test breaks the service the way
  the plan exists to catch). They are read when the file loads (so `-e` cannot set them),
  and a bad one is a configuration error (exit 104) naming it.
* **Storage traffic that cannot grow without bound.** `StorageMix` runs a fixed per-VU cycle
  of 40 % cache reads (GET .../participants), 30 % writes (POST .../participants, a set
  add: no conflicts, no new rows) and 30 % stream publishes (POST /v1/messages) on 20
  conversations made in setup(), so a 10-minute run at 300 requests/s never evicts them.
* **Graceful degradation is a check.** With `tolerate_503`, every answer must be a 2xx or a
  503 with a JSON error and Retry-After; anything else (a 500, a reset, a timeout: status 0)
  fails "degrades with 503", which the cascading and pool plans gate at 100 %.
* **Phases** (`baseline`, `fault`, `recovery`, `after`) tag the traffic's requests, so a
  summary shows each phase's latency and `migration_p95_ratio` compares two of them.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import deque
from typing import Any, ClassVar

import orjson
from common import DEFAULT_BASE_URL, auth, login_many, setup_vu, username

from loadgen import ConstantArrivalRate, Counter, PerVUIterations, Scenario, Trend
from loadgen.errors import ConfigError
from loadgen.options import format_duration, parse_duration
from loadgen.testtypes import Shape, TestType

POLL_S = 0.1


def env_float(name: str, default: float, lo: float = 0.0, hi: float = 1e6) -> float:
    """A number from the environment of the loadgen process (read when the file loads, so
    `-e` cannot set it); anything else is bad input: exit 104 naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:  # nan fails this too
        raise ConfigError(f"environment variable {name} must be a number in "
                          f"[{lo:.12g}, {hi:.12g}], got {raw!r}")
    return value


def env_fault() -> dict[str, Any] | None:
    """FAULT_JSON, the fault set a run switches on instead of its scenario's own: a JSON
    object, or exit 104 naming the problem (the service validates its fields)."""
    raw = os.environ.get("FAULT_JSON")
    if raw is None or raw == "":
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"environment variable FAULT_JSON is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("environment variable FAULT_JSON must be a JSON object "
                          '(a fault set, e.g. {"consumer": {"redelivery": false}})')
    return doc


FAULT_JSON = env_fault()
FAULT_S = env_float("FAULT_S", -1.0, 0, 3600)  # -1: the scenario's own hold_s
RECOVERY_WAIT_S = env_float("RECOVERY_WAIT_S", -1.0, 0, 3600)


class Phase:
    """Where the switch is now; the traffic tags its requests with it."""

    now = "baseline"


class StorageMix(Scenario):
    """The storage traffic: cache reads, writes and stream publishes (see module docstring)."""

    abstract = True
    default_base_url = DEFAULT_BASE_URL
    executor = ConstantArrivalRate(rate=int(env_float("RATE", 300, 1)), duration="10m",
                                   pre_allocated_vus=50, max_vus=500)
    tolerate_503: ClassVar[bool] = False
    users: ClassVar[int] = 20
    cycle: ClassVar[tuple[str, ...]] = ("read", "write", "publish", "read", "write", "read",
                                        "publish", "read", "write", "publish")
    latencies: ClassVar[dict[str, deque[float]]]  # phase -> http durations (ms), bounded
    _vus: ClassVar[itertools.count[int]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.latencies = {}
        cls._vus = itertools.count()

    async def setup(self) -> dict[str, Any]:
        vu = setup_vu()
        names = [username("storage", i) for i in range(self.users)]
        tokens = await login_many(vu, names)
        convs = []
        for i, owner in enumerate(names):
            partner = names[(i + 1) % len(names)]
            r = await vu.http.post("/v1/conversations", headers=auth(tokens[owner]),
                                   json={"title": f"storage {i}", "participants": [partner]},
                                   name="POST /v1/conversations")
            if r.status != 201:
                raise RuntimeError(f"creating a conversation failed: HTTP {r.status} "
                                   f"{r.text()[:200]} (is the demo at {vu.http.base_url}?)")
            convs.append((r.json()["id"], tokens[owner]))
        return {"convs": convs}

    def check(self, vu: Any, r: Any, ok: int) -> None:
        if self.tolerate_503:
            vu.check(r, {"degrades with 503": lambda r: r.status == ok or (
                r.status == 503 and bool(r.headers.get("Retry-After"))
                and r.headers.get("Content-Type", "").startswith("application/json"))})
        else:
            vu.check(r, {f"answered {ok}": lambda r: r.status == ok})
        if r.status:
            lat = type(self).latencies.setdefault(Phase.now, deque(maxlen=100_000))
            lat.append(r.timings.duration)

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "steps"):
            n = next(type(self)._vus)
            k = n % len(self.cycle)  # VUs start at different points of the cycle
            self.steps = itertools.cycle(self.cycle[k:] + self.cycle[:k])
            self.conv, self.token = self.data["convs"][n % len(self.data["convs"])]
        step, tags = next(self.steps), {"phase": Phase.now}
        h = auth(self.token)
        if step == "read":
            r = await vu.http.get(f"/v1/conversations/{self.conv}/participants", headers=h,
                                  name="cache read", tags=tags)
            self.check(vu, r, 200)
        elif step == "write":
            r = await vu.http.post(f"/v1/conversations/{self.conv}/participants", headers=h,
                                   json={"participants": ["storage-guest"]}, name="write",
                                   tags=tags)
            self.check(vu, r, 200)
        else:
            r = await vu.http.post("/v1/messages", headers=h, name="publish", tags=tags,
                                   json={"conversation_id": self.conv, "body": "x" * 256})
            self.check(vu, r, 202)


def p95(values: deque[float]) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)] if ranked else math.nan


class FaultSwitch(TestType):
    """Switches `fault` on at `at` of the run for `FAULT_S`, heals, measures the recovery.

    A test type so that its start follows the run's length whatever scales it (`--duration`
    alone, or with `--rps`: a plain scenario's `start_time` would stay at 5 minutes in a 30 s
    run); it ends with the run, so a service must recover while the traffic still flows."""

    abstract = True
    kind = "fault switch"
    default_base_url = DEFAULT_BASE_URL
    weight = 0.0  # never takes a share of --rps
    run_duration: ClassVar[str] = "10m"  # the plans' length, when --duration does not say
    at: ClassVar[float] = 0.5  # when the fault goes on, as a fraction of the run
    fault: ClassVar[dict[str, Any]] = {}
    hold_s: ClassVar[float] = 30.0
    recovery_gate_s: ClassVar[float] = 60.0  # the plan's gate; waiting longer proves nothing

    faults_switched = Counter("faults_switched")
    recovery_time = Trend("recovery_time", True)
    recovery_missed = Counter("recovery_missed")

    @classmethod
    def shape(cls, o: Any) -> Shape:
        total = parse_duration(o.duration or cls.run_duration)
        start = round(total * cls.at)
        return Shape(PerVUIterations(vus=1, iterations=1, start_time=format_duration(start),
                                     max_duration=format_duration(total - start)))

    def recovered(self, health: dict[str, Any]) -> bool:
        return health.get("status") == "ok"

    def report(self, vu: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Record what the service says happened (deltas of /health) as metrics."""

    async def health(self, vu: Any) -> dict[str, Any]:
        r = await vu.http.get("/health", name="admin: health", timeout=2)
        try:
            doc = r.json() if r.status == 200 else {}
        except orjson.JSONDecodeError:
            doc = {}
        return doc if isinstance(doc, dict) else {}

    async def switch(self, vu: Any, body: dict[str, Any], what: str) -> bool:
        r = await vu.http.post("/admin/faults", json=body, name=f"admin: fault {what}",
                               timeout=5)
        return bool(vu.check(r, {f"fault switched {what}": lambda r: r.status == 200}))

    async def hold(self, vu: Any, body: dict[str, Any], seconds: float) -> None:
        """Keep the fault on for `seconds` (cut short at the end of the run)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not vu.stopping:
            await vu.sleep(min(POLL_S, end - time.monotonic()))

    async def iteration(self, vu: Any) -> None:
        body = FAULT_JSON if FAULT_JSON is not None else self.fault
        seconds = FAULT_S if FAULT_S >= 0 else self.hold_s
        wait = RECOVERY_WAIT_S if RECOVERY_WAIT_S >= 0 else self.recovery_gate_s
        before = await self.health(vu)
        if not await self.switch(vu, body, "on"):
            return
        self.faults_switched.add(1)
        Phase.now = "fault"
        try:
            await self.hold(vu, body, seconds)
        finally:
            healed = await self.switch(vu, {}, "off")
        Phase.now = "recovery"
        t0 = time.monotonic()
        after: dict[str, Any] = {}
        while healed:
            after = await self.health(vu)
            if after and self.recovered(after):
                self.recovery_time.add((time.monotonic() - t0) * 1000.0)
                break
            if time.monotonic() - t0 >= wait or vu.stopping:
                self.recovery_missed.add(1)
                break
            await vu.sleep(POLL_S)
        else:
            self.recovery_missed.add(1)
        Phase.now = "after"
        self.report(vu, before, after)
