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
