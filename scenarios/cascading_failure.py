"""Cascading failure (Test 11): the storage mix at 300 requests/s for 10 minutes; at 5
minutes the store and the cache go down for 30 s, then come back.

What it proves: losing dependencies degrades the service instead of crashing it: every
answer meanwhile is a 2xx or a JSON 503 with Retry-After (the "degrades with 503" check,
gated at 100 %: a 500, a reset or a hang fails it), /health keeps answering (200,
`degraded`), and the service recovers by itself within 60 s of the dependencies' return
(`recovery_time`: /health `ok` again, the breaker closed included); afterwards the traffic
succeeds again (`http_req_failed` of phase `after` under 1 %).

The fault it exists to catch: a dependency failure that surfaces as 500s (a handler that
lets the failure escape): run with `FAULT_JSON` adding `"error_rate": 1, "error_status":
500` on the store's paths, and this run fails (exit 99).

    loadgen run scenarios/cascading_failure.py --thresholds thresholds/cascading_failure.yaml
    RATE=50 FAULT_S=1.5 loadgen run scenarios/cascading_failure.py --duration 6s \\
        --thresholds thresholds/cascading_failure.yaml   # demo with --breaker-cooldown 0.5
"""

from __future__ import annotations

from resilience import FaultSwitch, StorageMix


class Storage(StorageMix):
    tolerate_503 = True


class Outage(FaultSwitch):
    fault = {"outage": {"store": True, "cache": True}}
    hold_s = 30.0
    recovery_gate_s = 60.0
