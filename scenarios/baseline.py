"""Baseline: 1,000 users for 15 minutes doing the mixed journey; p95 under 500 ms.

What it proves: at normal load the SLOs hold, and it records the reference numbers the other
shapes are compared with. The verdict (VERDICTS section, `loadgen.verdicts` in the summary
JSON) judges the steady state after the first minute.

    loadgen run scenarios/baseline.py --thresholds thresholds/baseline.yaml
    loadgen run scenarios/baseline.py --vus 50 --duration 30s --thresholds thresholds/baseline.yaml
"""

from journey import Journey

from loadgen import Baseline


class BaselineJourney(Journey, Baseline):
    name = "baseline"
    vus = 1000
    duration = "15m"
    warmup = "1m"
    p95_ms = 500
    max_error_rate = 0.01
