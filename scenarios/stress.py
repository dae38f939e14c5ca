"""Stress: raise the rate of journeys step by step until an SLO breaks.

What it proves: where the service's capacity ends and what breaks first. Journeys start at
10/s and rise by 10/s every 30 s (open model: a slow service cannot slow the arrivals down);
the run stops at the first step whose p95 exceeds 500 ms, whose errors exceed 1 %, or whose
offered rate the service no longer achieves. The verdict names the maximum sustainable rate
and prints the curve (rate vs p95/errors).

    loadgen run scenarios/stress.py --thresholds thresholds/stress.yaml
    loadgen run scenarios/stress.py --rps 200 --duration 2m --thresholds thresholds/stress.yaml
(`--rps` is the top of the ramp, `--duration` the whole ramp divided among the steps.)
"""

from journey import Journey

from loadgen import Stress


class StressJourney(Journey, Stress):
    name = "stress"
    start_rate = 10
    step_rate = 10
    max_rate = 1000
    step_duration = "30s"
    p95_ms = 500
    max_error_rate = 0.01
