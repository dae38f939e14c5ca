"""Cascading failure (Test 11): the storage mix at 300 requests/s for 10 minutes; at 5
minutes the store and the cache go down for 30 s, then come back (two events on
/admin/faults).

What it proves: losing dependencies degrades the service instead of crashing it: every
answer meanwhile is a 2xx or a JSON 503 with Retry-After (the "degrades with 503" check,
gated at 100 %: a 500, a reset or a hang fails it), the service kept answering, and it
recovers by itself within 60 s of the dependencies' return: loadgen's `Recovery` verdict,
p95 and the error rate of the traffic back to the baseline before the outage (which also
needs the breaker closed again: while it is open the storage requests answer 503). That
verdict replaces the old poll of /health.

The fault it exists to catch: a dependency failure that surfaces as 500s (a handler that
lets the failure escape): run with `FAULT_JSON` adding `"error_rate": 1, "error_status":
500` on the store's paths, and this run fails (exit 99).

Scaling (resilience.py): DURATION moves the events with the run's length; the full plan is
the default (10m, outage at 5m for 30 s):

    loadgen run scenarios/cascading_failure.py --thresholds thresholds/cascading_failure.yaml
    DURATION=8s RATE=50 FAULT_S=1.5 loadgen run scenarios/cascading_failure.py \\
        --thresholds thresholds/cascading_failure.yaml   # demo with --breaker-cooldown 0.5
"""

from __future__ import annotations

from resilience import Phase, StorageMix, fault_events, fault_window

from loadgen import Recovery

WINDOW = fault_window(30.0)
GATE_S = 60.0  # the plan's recovery gate
Phase.window = WINDOW


class Storage(StorageMix):
    tolerate_503 = True
    events = fault_events({"outage": {"store": True, "cache": True}}, WINDOW, "outage",
                          "dependencies-back")
    recovery = [Recovery(after="outage", until="dependencies-back", within=f"{GATE_S:g}s",
                         gate=[f"recovery_s<{GATE_S:g}"], must_answer=True)]
