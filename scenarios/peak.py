"""Peak: 2,500 users for 30 minutes doing the mixed journey; p95 under 1 s.

What it proves: the expected busiest hour is served within the (looser) peak SLO. Same
journey as the baseline, 2.5x the users, twice as long.

    loadgen run scenarios/peak.py --thresholds thresholds/peak.yaml
    loadgen run scenarios/peak.py --vus 100 --duration 1m --thresholds thresholds/peak.yaml
"""

from journey import Journey

from loadgen import Peak


class PeakJourney(Journey, Peak):
    name = "peak"
    vus = 2500
    duration = "30m"
    warmup = "2m"
    p95_ms = 1000
    max_error_rate = 0.01
