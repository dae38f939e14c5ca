"""The backend faults of `POST /admin/faults`: what the nightly resilience plans switch.

Each is one optional JSON object in the fault set, next to the HTTP/WebSocket fields; like
them it is off when omitted, so posting a set without it ends it (that is how a test heals a
fault: `POST /admin/faults {}` or `DELETE /admin/faults`). Posting a set that names it again
keeps a fault that is still on as it is (a stopped consumer stays stopped) except the
migration, which restarts (like `stall_seconds`). Unknown keys are a 400, as elsewhere.

    {"consumer":  {"stopped": true, "redelivery": true}}
        the outbox consumer stops; messages posted meanwhile wait in the pending list (the
        outbox, bounded by `queue_size`: beyond it POST /v1/messages answers 503) and are
        redelivered when a set without `consumer` restarts it; `redelivery: false` drops
        the ones pending at the restart instead (the loss a delivery tracker must catch)
    {"partition": {"dlq_max": 10000, "replay": true}}
        the broker is unreachable: each accepted message goes to a bounded dead-letter store
        instead of the outbox (full: 503 with Retry-After, the message is refused, never
        dropped silently); at the heal the store is replayed in order into the outbox, or
        discarded with `replay: false`
    {"pool": {"exhaust": true, "query_ms": 0}}
        the storage pool runs out: `exhaust` holds every connection until the fault ends,
        `query_ms` holds each request's connection that much longer (slow queries)
    {"outage": {"store": true, "cache": false}}
        a dependency is down: the endpoints needing it answer 503 with a JSON error and
        /health says `degraded`
    {"migration": {"lock_s": 5, "write_timeout_s": 1}}
        a schema migration holds the write lock for `lock_s`: writes wait for it up to
        `write_timeout_s`, then answer 503; reads are not blocked
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConsumerFault:
    stopped: bool = True
    redelivery: bool = True


@dataclass(frozen=True, slots=True)
class PartitionFault:
    dlq_max: int = 10_000
    replay: bool = True


@dataclass(frozen=True, slots=True)
class PoolFault:
    exhaust: bool = False
    query_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class OutageFault:
    store: bool = False
    cache: bool = False


@dataclass(frozen=True, slots=True)
class MigrationFault:
    lock_s: float = 5.0
    write_timeout_s: float = 1.0


BackendFault = ConsumerFault | PartitionFault | PoolFault | OutageFault | MigrationFault

# JSON key -> (class, {field: (kind, lo, hi)}); kind "bool", "int" or "num".
_SPECS: dict[str, tuple[type[Any], dict[str, tuple[str, float, float]]]] = {
    "consumer": (ConsumerFault, {"stopped": ("bool", 0, 0), "redelivery": ("bool", 0, 0)}),
    "partition": (PartitionFault, {"dlq_max": ("int", 1, 1_000_000),
                                   "replay": ("bool", 0, 0)}),
    "pool": (PoolFault, {"exhaust": ("bool", 0, 0), "query_ms": ("num", 0, 60_000)}),
    "outage": (OutageFault, {"store": ("bool", 0, 0), "cache": ("bool", 0, 0)}),
    "migration": (MigrationFault, {"lock_s": ("num", 0, 300),
                                   "write_timeout_s": ("num", 0, 60)}),
}

KEYS = tuple(_SPECS)


def _field(key: str, name: str, v: Any, spec: tuple[str, float, float],
           problems: list[str]) -> Any:
    kind, lo, hi = spec
    if kind == "bool":
        if isinstance(v, bool):
            return v
        problems.append(f"{key}.{name} must be true or false")
        return None
    is_num = isinstance(v, int | float) and not isinstance(v, bool)
    ok = is_num and (kind == "num" or isinstance(v, int)) and lo <= v <= hi
    if not ok:
        what = "an integer" if kind == "int" else "a number"
        problems.append(f"{key}.{name} must be {what} in [{lo:.12g}, {hi:.12g}]")
        return None
    return v if kind == "int" else float(v)


def parse(key: str, raw: Any, problems: list[str]) -> BackendFault | None:
    """One backend fault from its JSON object (null: off); problems are appended, named."""
    if raw is None:
        return None
    cls, spec = _SPECS[key]
    if not isinstance(raw, Mapping):
        problems.append(f"{key} must be a JSON object or null")
        return None
    n = len(problems)
    problems += [f"unknown field {key}.{k}" for k in raw if k not in spec]
    kwargs = {name: _field(key, name, v, spec[name], problems)
              for name, v in raw.items() if name in spec}
    if len(problems) > n:
        return None
    fault: BackendFault = cls(**kwargs)
    if isinstance(fault, ConsumerFault) and not fault.stopped:
        return None  # {"stopped": false} is the running consumer: no fault
    return fault


def to_json(fault: BackendFault | None) -> dict[str, Any] | None:
    return None if fault is None else asdict(fault)
