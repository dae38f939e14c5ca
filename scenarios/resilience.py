"""Shared pieces of the resilience plans (tests 7-13): the storage traffic mix, the run's
length and fault window read from the environment, and the fault as two run events.

Why they look like this:

* **The fault is a pair of events.** `fault_events()` gives `At(on, HttpCall("POST",
  "/admin/faults", json=fault), required=True)` and `At(off, HttpCall(... {} ...))`: the
  service breaks and heals at offsets of the load, on the events' own HTTP session, so the
  switch's requests are never in the metrics, and a switch that fails (a wrong URL, a typo
  in the fault: the service answers 400) fails the run (99) instead of passing vacuously.
  Each scenario declares a `Recovery` on its own traffic after them: loadgen's verdict on
  how long p95 and the error rate took to come back to the baseline before the fault.
* **Environment, not edits, scales a run, the events included.** Event offsets are
  absolute (`--duration` does not move them), so the length is read here: `DURATION` (a k6
  duration, default the plans' 10m) sets every executor's duration, and the fault goes on
  at `FAULT_AT` of it (default 0.5) for `FAULT_S` seconds (default the scenario's own).
  `RATE` (the traffic's arrival rate) and `FAULT_JSON` (a whole fault set replacing the
  scenario's own: how a test breaks the service the way the plan exists to catch) as
  before. They are read when the file loads (so `-e` cannot set them), and a bad one is a
  configuration error (exit 104) naming it: `DURATION=8s FAULT_S=1.5 RATE=50 loadgen run
  ...`; a `--duration` shorter than the fault's end is refused (104, the event "would never
  run"), so scale with DURATION, not --duration.
* **Storage traffic that cannot grow without bound.** `StorageMix` runs a fixed per-VU cycle
  of 40 % cache reads (GET .../participants), 30 % writes (POST .../participants, a set
  add: no conflicts, no new rows) and 30 % stream publishes (POST /v1/messages) on 20
  conversations made in setup(), so a 10-minute run at 300 requests/s never evicts them.
* **Graceful degradation is a check.** With `tolerate_503`, every answer must be a 2xx or a
  503 with a JSON error and Retry-After; anything else (a 500, a reset, a timeout: status 0)
  fails "degrades with 503", which the cascading and pool plans gate at 100 %.
* **Phases** (`baseline`, `fault`, `after`) tag the traffic's requests by the time since the
  load's first request against the planned fault window (the events run elsewhere: on the
  coordinator, under --workers in another process), so a summary shows each phase's latency
  and `migration_p95_ratio` compares two of them.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from common import DEFAULT_BASE_URL, auth, login_many, setup_vu, username

from loadgen import At, ConstantArrivalRate, HttpCall, Scenario
from loadgen.errors import ConfigError
from loadgen.options import parse_duration

FAULTS_URL = "/admin/faults"


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


def env_duration(name: str, default: str) -> float:
    """A k6 duration from the environment, in seconds (at least 1 s), or exit 104."""
    raw = os.environ.get(name) or default
    try:
        seconds = parse_duration(raw, what=name) / 1e9
    except ValueError as e:
        raise ConfigError(f"environment variable {name}: {e}") from None
    if not 1 <= seconds <= 7 * 86400:
        raise ConfigError(f"environment variable {name} must be between 1s and 168h, "
                          f"got {raw!r}")
    return seconds


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
FAULT_S = env_float("FAULT_S", -1.0, 0, 3600)  # -1: the scenario's own hold
RUN_S = env_duration("DURATION", "10m")
RUN = f"{RUN_S:g}s"  # every executor's duration
FAULT_AT = env_float("FAULT_AT", 0.5, 0.05, 0.95)


@dataclass(frozen=True)
class Window:
    """When the fault is on, in seconds after the load's start."""

    on_s: float
    off_s: float


def fault_window(hold_s: float) -> Window:
    """The scenario's fault window at this run's length (FAULT_S overrides `hold_s`)."""
    on = round(RUN_S * FAULT_AT, 3)
    return Window(on, round(on + (FAULT_S if FAULT_S >= 0 else hold_s), 3))


def check_within(gate_s: float, window: Window) -> float:
    """How long a check after the heal may poll: the plan's gate, or what is left of the
    run when that is shorter (events are cancelled when the load ends; this way a scaled
    run's check fails with its own message, not a cancellation)."""
    return max(1.0, min(gate_s, RUN_S - window.off_s - 0.5))


def fault_events(fault: dict[str, Any], window: Window, on: str, off: str) -> list[At]:
    """The fault switched on (FAULT_JSON, when set, instead of `fault`) and healed, as two
    required events on the scenario's base URL."""
    body = FAULT_JSON if FAULT_JSON is not None else fault
    return [At(window.on_s, HttpCall("POST", FAULTS_URL, json=body, expect=200), name=on,
               required=True, timeout="5s"),
            At(window.off_s, HttpCall("POST", FAULTS_URL, json={}, expect=200), name=off,
               required=True, timeout="5s")]


class Phase:
    """The traffic's phase, by the time since its first request (≈ the load's start)."""

    window = Window(math.inf, math.inf)
    origin: float | None = None

    @classmethod
    def now(cls) -> str:
        if cls.origin is None:
            cls.origin = time.monotonic()
        t = time.monotonic() - cls.origin
        return "baseline" if t < cls.window.on_s else "fault" if t < cls.window.off_s else "after"


class StorageMix(Scenario):
    """The storage traffic: cache reads, writes and stream publishes (see module docstring)."""

    abstract = True
    default_base_url = DEFAULT_BASE_URL
    executor = ConstantArrivalRate(rate=int(env_float("RATE", 300, 1)), duration=RUN,
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

    def check(self, vu: Any, r: Any, ok: int, phase: str) -> None:
        if self.tolerate_503:
            vu.check(r, {"degrades with 503": lambda r: r.status == ok or (
                r.status == 503 and bool(r.headers.get("Retry-After"))
                and r.headers.get("Content-Type", "").startswith("application/json"))})
        else:
            vu.check(r, {f"answered {ok}": lambda r: r.status == ok})
        if r.status:
            lat = type(self).latencies.setdefault(phase, deque(maxlen=100_000))
            lat.append(r.timings.duration)

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "steps"):
            n = next(type(self)._vus)
            k = n % len(self.cycle)  # VUs start at different points of the cycle
            self.steps = itertools.cycle(self.cycle[k:] + self.cycle[:k])
            self.conv, self.token = self.data["convs"][n % len(self.data["convs"])]
        step, phase = next(self.steps), Phase.now()
        tags = {"phase": phase}
        h = auth(self.token)
        if step == "read":
            r = await vu.http.get(f"/v1/conversations/{self.conv}/participants", headers=h,
                                  name="cache read", tags=tags)
            self.check(vu, r, 200, phase)
        elif step == "write":
            r = await vu.http.post(f"/v1/conversations/{self.conv}/participants", headers=h,
                                   json={"participants": ["storage-guest"]}, name="write",
                                   tags=tags)
            self.check(vu, r, 200, phase)
        else:
            r = await vu.http.post("/v1/messages", headers=h, name="publish", tags=tags,
                                   json={"conversation_id": self.conv, "body": "x" * 256})
            self.check(vu, r, 202, phase)


def p95(values: deque[float]) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)] if ranked else math.nan
