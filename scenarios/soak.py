"""Soak: 500 users doing the mixed journey for 4 hours; nothing may drift.

What it proves: the service has no slow leak: the verdict compares p95, throughput and
error rate of the last stretch with the first (after warm-up), and with `--monitor-pid` the
service's memory growth too.

    loadgen run scenarios/soak.py --monitor-pid $(pgrep -f loadgen.demo) \\
        --thresholds thresholds/soak.yaml
    loadgen run scenarios/soak.py --vus 50 --duration 5m --thresholds thresholds/soak.yaml
"""

from journey import Journey

from loadgen import Soak


class SoakJourney(Journey, Soak):
    name = "soak"
    vus = 500
    duration = "4h"
    warmup = "5m"
