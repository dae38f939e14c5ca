"""Settings of the demo service and the fault set it injects.

Everything a test or a scenario may want to vary lives here as plain dataclasses, so a
test builds one `DemoConfig` and gets a reproducible server (the seed fixes every random
draw: simulated work latency, error-rate coin flips, random drops and corruption).
`Faults` is also the JSON shape of `/admin/faults`, hence the strict `from_dict`: a typo
in a fault field must be a 400, not a silently fault-free run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from loadgen.demo import backend_faults as bf
from loadgen.demo.backend_faults import (
    ConsumerFault,
    MigrationFault,
    OutageFault,
    PartitionFault,
    PoolFault,
)

# Close codes a server may legitimately send (RFC 6455 §7.4.1 plus the private range).
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})

DEFAULT_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Lognormal latency given by its median and p95, the two numbers people quote."""

    median_ms: float = 2.0
    p95_ms: float = 5.0

    def __post_init__(self) -> None:
        if not (self.median_ms >= 0 and self.p95_ms >= self.median_ms):
            raise ValueError("latency profile needs 0 <= median_ms <= p95_ms")

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """Parameters of the underlying normal: p95 = median * exp(1.6449 * sigma)."""
        if self.median_ms <= 0:
            return (-math.inf, 0.0)
        sigma = math.log(self.p95_ms / self.median_ms) / 1.6448536269514722
        return (math.log(self.median_ms), sigma)


def _default_work() -> dict[str, LatencyProfile]:
    return {
        "match": LatencyProfile(2.0, 5.0),
        "outreach": LatencyProfile(3.0, 8.0),
        "audit": LatencyProfile(5.0, 15.0),
    }


@dataclass(slots=True)
class Faults:
    """One complete fault set; POST /admin/faults replaces the active set with a new one.

    HTTP faults (latency, errors, stall) hit every route except /admin/* and /metrics, or
    only paths starting with one of `paths` when that is non-empty. WebSocket faults hit
    deliveries on /v1/ws (drops, corruption, close) and echoes on /v1/ws/echo
    (corruption, close). "every N" counters restart whenever the fault set is replaced.
    The backend faults (`consumer`, `partition`, `pool`, `outage`, `migration`) are one JSON
    object each, described in backend_faults.py.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    stall_seconds: float = 0.0
    drop_rate: float = 0.0
    drop_every: int = 0
    close_code: int | None = None
    corrupt_rate: float = 0.0
    corrupt_every: int = 0
    paths: tuple[str, ...] = ()
    consumer: ConsumerFault | None = None
    partition: PartitionFault | None = None
    pool: PoolFault | None = None
    outage: OutageFault | None = None
    migration: MigrationFault | None = None

    @property
    def active(self) -> bool:
        """Any HTTP/WebSocket fault on (the backend faults act elsewhere, not per request)."""
        backend = {"consumer": None, "partition": None, "pool": None, "outage": None,
                   "migration": None}
        return replace(self, **backend) != Faults()  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["paths"] = list(self.paths)
        for key in bf.KEYS:
            out[key] = bf.to_json(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Validate a JSON object; raises ValueError naming every bad field at once."""
        problems: list[str] = []
        known = {f.name for f in fields(cls)}
        problems += [f"unknown field {k!r}" for k in data if k not in known]
        kwargs: dict[str, Any] = {}

        def number(name: str, lo: float, hi: float) -> None:
            if name not in data:
                return
            v = data[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                problems.append(f"{name} must be a number in [{lo}, {hi}]")
            else:
                kwargs[name] = float(v)

        def integer(name: str, lo: int, hi: int) -> None:
            if name not in data:
                return
            v = data[name]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                problems.append(f"{name} must be an integer in [{lo}, {hi}]")
            else:
                kwargs[name] = v

        number("latency_ms", 0, 60_000)
        number("error_rate", 0, 1)
        integer("error_status", 500, 599)
        number("stall_seconds", 0, 300)
        number("drop_rate", 0, 1)
        integer("drop_every", 0, 1_000_000_000)
        number("corrupt_rate", 0, 1)
        integer("corrupt_every", 0, 1_000_000_000)
        if data.get("close_code") is not None:
            code = data["close_code"]
            ok = isinstance(code, int) and not isinstance(code, bool)
            if not (ok and (code in _SENDABLE_CLOSE_CODES or 3000 <= code <= 4999)):
                problems.append("close_code must be a sendable WebSocket close code or null")
            else:
                kwargs["close_code"] = code
        if "paths" in data:
            paths = data["paths"]
            if not isinstance(paths, list) or not all(
                isinstance(p, str) and p.startswith("/") for p in paths
            ):
                problems.append("paths must be a list of strings starting with '/'")
            else:
                kwargs["paths"] = tuple(paths)
        for key in bf.KEYS:
            if key in data:
                kwargs[key] = bf.parse(key, data[key], problems)
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**kwargs)


@dataclass(slots=True)
class DemoConfig:
    """Service settings; defaults keep every endpoint at a few ms so test suites stay fast."""

    seed: int | None = None
    # None: any non-empty password logs in; a string: only that password does.
    password: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    history_limit: int = 100
    max_conversations: int = 50_000
    max_tokens: int = 100_000
    queue_size: int = 10_000
    send_timeout_s: float = 5.0
    # the storage pool and its circuit breaker (breaker_failures 0: no breaker)
    pool_size: int = 50
    pool_timeout_s: float = 0.5
    breaker_failures: int = 5
    breaker_cooldown_s: float = 5.0
    work: dict[str, LatencyProfile] = field(default_factory=_default_work)
    faults: Faults = field(default_factory=Faults)

    @property
    def client_max_size(self) -> int:
        """Request size cap: a maximal body plus room for JSON escaping and envelope."""
        return self.max_body_bytes * 2 + 16 * 1024
