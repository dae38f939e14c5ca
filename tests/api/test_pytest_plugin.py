"""The pytest plugin as a user meets it: a test file run by pytest (pytester), a gate that
passes and one that fails with the failed threshold and its observed value in the message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/servers.py

from servers import serve  # noqa: E402

pytest_plugins = ["pytester"]

USER_TESTS = '''
import pytest
from loadgen import Scenario

class Ping(Scenario):
    async def iteration(self, vu):
        await vu.http.get("/")

def test_fixture_gate_passes(loadgen):
    r = loadgen(Ping, duration="1s", rps=20, thresholds={"http_req_failed": ["rate<0.01"]})
    assert r.metrics["http_reqs"]["values"]["count"] > 0

def test_fixture_gate_fails(loadgen):
    loadgen(Ping, iterations=3, thresholds={"http_req_duration": ["p(95)<0.0001"]})

@pytest.mark.loadgen(Ping, iterations=3, thresholds={"http_reqs": ["count>=3"]})
def test_marker_gate_passes(loadgen_result):
    assert loadgen_result.thresholds["http_reqs"][0]["observed"] == 3

@pytest.mark.loadgen(Ping, iterations=2, thresholds={"http_reqs": ["count>5"]})
def test_marker_gate_fails():
    pass

def test_check_false_returns_the_failed_result(loadgen):
    r = loadgen(Ping, iterations=1, check=False, thresholds={"http_reqs": ["count>5"]})
    assert r.exit_code == 99 and r.failed_thresholds() == ["http_reqs: count>5 (observed 1)"]
'''


@pytest.fixture(scope="module")
def base_url():
    with serve() as url:
        yield url


def test_gates_pass_and_fail_with_the_threshold_named(pytester, base_url):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user=USER_TESTS)
    r = pytester.runpytest("--loadgen-base-url", base_url, "-p", "no:cacheprovider")
    r.assert_outcomes(passed=3, failed=1, errors=1)
    out = r.stdout.str()
    assert "loadgen run failed with exit code 99" in out
    assert "threshold http_req_duration: p(95)<0.0001 (observed " in out
    assert "threshold http_reqs: count>5 (observed 2)" in out  # the marker's set-up
    assert "Traceback" not in out and "loadgen/api.py" not in out


def test_without_a_base_url_the_ini_value_is_used(pytester, base_url):
    pytester.makeini(f"[pytest]\nloadgen_base_url = {base_url}\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_ini='''
from loadgen import Scenario

class Ping(Scenario):
    async def iteration(self, vu):
        await vu.http.get("/")

def test_it(loadgen):
    assert loadgen(Ping, iterations=2).metrics["http_req_failed"]["values"]["rate"] == 0
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
