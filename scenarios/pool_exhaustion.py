"""Pool exhaustion (Test 10): the storage mix at 300 requests/s for 10 minutes; at 5 minutes
every storage connection is held for 30 s, then given back.

What it proves: the circuit breaker opens when the pool runs out (`breaker_opened`: storage
requests then fail fast with 503 and Retry-After instead of each waiting out the pool
timeout), and closes again once the pool is back (`breaker_closed`, within 60 s of the end
of the exhaustion: `recovery_time`); every answer meanwhile is a 2xx or a JSON 503 with
Retry-After (the "degrades with 503" check, gated at 100 %: no 500, no hang).

The fault it exists to catch: a service without a working breaker (the demo started with
`--breaker-failures 0`) never opens it, and this run fails (exit 99).

    loadgen run scenarios/pool_exhaustion.py --thresholds thresholds/pool_exhaustion.yaml
    RATE=50 FAULT_S=1.5 loadgen run scenarios/pool_exhaustion.py --duration 6s \\
        --thresholds thresholds/pool_exhaustion.yaml   # demo with --breaker-cooldown 0.5
"""

from __future__ import annotations

from typing import Any

from resilience import FaultSwitch, StorageMix

from loadgen import Counter


class Storage(StorageMix):
    tolerate_503 = True


class PoolExhaust(FaultSwitch):
    fault = {"pool": {"exhaust": True}}
    hold_s = 30.0
    recovery_gate_s = 60.0
    breaker_opened = Counter("breaker_opened")
    breaker_closed = Counter("breaker_closed")

    def recovered(self, health: dict[str, Any]) -> bool:
        breaker = health.get("breaker", {})
        return breaker.get("state") == "closed" and health["storage_pool"]["held"] == 0

    def report(self, vu: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
        was = before.get("breaker", {}).get("transitions", {})
        now = after.get("breaker", {}).get("transitions", {})
        self.breaker_opened.add(now.get("open", 0) - was.get("open", 0))
        self.breaker_closed.add(now.get("closed", 0) - was.get("closed", 0))
