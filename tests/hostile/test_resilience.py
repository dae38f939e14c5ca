"""Bad settings of the resilience scenarios (environment variables read when the file loads):
exit 104 with a message naming the variable, never a traceback, and no load started."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_run import run_cli

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

CASES = [
    ("consumer_resilience", {"RATE": "abc"}, "RATE must be a number in [1, 1000000], got 'abc'"),
    ("broker_partition", {"SOCKETS": "0"}, "SOCKETS must be a number in [1, 10000], got '0'"),
    ("pool_exhaustion", {"FAULT_S": "nan"}, "FAULT_S must be a number in [0, 3600], got 'nan'"),
    ("cascading_failure", {"FAULT_JSON": '{"outage": '}, "FAULT_JSON is not JSON"),
    ("migration_under_load", {"FAULT_JSON": "[1]"}, "FAULT_JSON must be a JSON object"),
    ("cascading_failure", {"DURATION": "soon"}, "environment variable DURATION: invalid"),
    ("broker_partition", {"DURATION": "0.5s"}, "DURATION must be between 1s and 168h"),
    ("consumer_resilience", {"FAULT_AT": "1.5"}, "FAULT_AT must be a number in [0.05, 0.95]"),
]


@pytest.mark.parametrize(("scenario", "env", "message"), CASES,
                         ids=[f"{s}-{next(iter(e))}" for s, e, _ in CASES])
def test_a_bad_setting_is_a_config_error_naming_it(scenario, env, message, tmp_path):
    # no server anywhere: the file must be refused before any request is made
    r = run_cli("run", str(SCENARIOS / f"{scenario}.py"), "--duration", "2s", "--no-summary",
                env={**env, "BASE_URL": "http://127.0.0.1:9"}, cwd=str(tmp_path), timeout=30)
    assert r.code == 104, r.text[-2000:]
    assert message in r.err, r.err
    r.assert_clean()
    assert r.peak_rss_mb < 400, r.peak_rss_mb
    assert r.wall_s < 2 + 30 + 10, r.wall_s  # duration + graceful stop + a margin


def test_a_duration_shorter_than_the_fault_names_the_events_it_would_miss(tmp_path):
    """The fault's events follow DURATION, not --duration: a run cut shorter than the
    fault is refused before any request, naming each event it would never reach."""
    r = run_cli("run", str(SCENARIOS / "pool_exhaustion.py"), "--duration", "2s",
                "--no-summary", env={"BASE_URL": "http://127.0.0.1:9", "DURATION": "10m"},
                cwd=str(tmp_path), timeout=30)
    assert r.code == 104, r.text[-2000:]
    assert "offset 5m0s is beyond the run's planned length of 2s" in r.err, r.err
    assert "Recovery refers to event 'pool-exhaust'" in r.err, r.err
    r.assert_clean()
    assert r.peak_rss_mb < 400, r.peak_rss_mb
    assert r.wall_s < 2 + 30 + 10, r.wall_s
