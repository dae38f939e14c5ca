"""Pool exhaustion (Test 10): the storage mix at 300 requests/s for 10 minutes; at 5 minutes
every storage connection is held for 30 s, then given back (two events on /admin/faults).

What it proves: the circuit breaker opens when the pool runs out (storage requests then fail
fast with 503 and Retry-After instead of each waiting out the pool timeout) and closes again
once the pool is back: the event "breaker opened and closed" reads the service's /metrics
(`storage_circuit_breaker_transitions`) from the end of the exhaustion until it has seen
both transitions in this run, for at most 60 s (required: failing it exits 99); loadgen's
`Recovery` verdict gives the recovery time (the traffic's p95 and errors back to the
baseline within 60 s of the pool's return) and requires that the service kept answering;
every answer meanwhile is a 2xx or a JSON 503 with Retry-After (the "degrades with 503"
check, gated at 100 %: no 500, no hang).

The fault it exists to catch: a service without a working breaker (the demo started with
`--breaker-failures 0`) never opens it, and this run fails (exit 99).

Scaling (resilience.py): DURATION moves the events with the run's length; the full plan is
the default (10m, exhaustion at 5m for 30 s):

    loadgen run scenarios/pool_exhaustion.py --thresholds thresholds/pool_exhaustion.yaml
    DURATION=8s RATE=50 FAULT_S=1.5 loadgen run scenarios/pool_exhaustion.py \\
        --thresholds thresholds/pool_exhaustion.yaml   # demo with --breaker-cooldown 0.5
"""

from __future__ import annotations

from fault_checks import breaker_cycled, snapshot
from resilience import Phase, StorageMix, check_within, fault_events, fault_window

from loadgen import At, Call, Recovery

WINDOW = fault_window(30.0)
GATE_S = 60.0  # the plan's recovery gate
Phase.window = WINDOW
CHECK_S = check_within(GATE_S, WINDOW)


class Storage(StorageMix):
    tolerate_503 = True
    events = [At(0, Call(snapshot), name="counters before", timeout="5s"),
              *fault_events({"pool": {"exhaust": True}}, WINDOW, "pool-exhaust", "pool-back"),
              At(WINDOW.off_s, Call(breaker_cycled, CHECK_S),
                 name="breaker opened and closed", required=True, timeout=CHECK_S + 5)]
    recovery = [Recovery(after="pool-exhaust", until="pool-back", within=f"{GATE_S:g}s",
                         gate=[f"recovery_s<{GATE_S:g}"], must_answer=True)]
