"""Spike: 100 users, then 5,000 within one minute, held, then back to 100.

What it proves: the service survives a sudden surge of users (each logging in as it
arrives) and how fast it recovers: the verdict gives the recovery time (p95 and errors back
near the pre-spike baseline) and whether it still answers at the end.
Phases: 1 m warm at 100, 1 m ramp to 5,000, 30 s hold, 30 s back down, 2 m recovery.

    loadgen run scenarios/spike.py --thresholds thresholds/spike.yaml
    loadgen run scenarios/spike.py --vus 500 --duration 1m --thresholds thresholds/spike.yaml
(`--duration` scales all phases, `--vus` the spike's height, the base in proportion.)
"""

from journey import Journey

from loadgen import Spike


class SpikeJourney(Journey, Spike):
    name = "spike"
    base_vus = 100
    spike_vus = 5000
    warm = "1m"
    ramp_up = "1m"
    hold = "30s"
    ramp_down = "30s"
    recover = "2m"
    max_recovery = "1m"
