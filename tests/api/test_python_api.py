"""loadgen.run(): the CLI's options, judged as the CLI judges, from sync and async code.

Short real runs against a loopback server (aiohttp in its own thread): the API's point is
that a test gets the same exit code, thresholds and numbers as `loadgen run` would."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/servers.py

from servers import serve  # noqa: E402

import loadgen  # noqa: E402
from loadgen import VU, Scenario  # noqa: E402
from loadgen.api import OptionError  # noqa: E402
from loadgen.errors import ConfigError  # noqa: E402


class Ping(Scenario):
    async def iteration(self, vu: VU) -> None:
        await vu.http.get("/")


@pytest.fixture(scope="module")
def base_url():
    with serve() as url:
        yield url


def test_a_passing_run_reports_its_thresholds_with_observed_values(base_url, capsys):
    r = loadgen.run(Ping, duration="1s", rps=40, base_url=base_url,
                    thresholds={"http_req_failed": ["rate<0.01"],
                                "http_reqs": ["count>10"]})
    assert r.exit_code == 0 and r.passed, r.explain()
    assert r.metrics["http_reqs"]["values"]["count"] >= 30
    [row] = r.thresholds["http_reqs"]
    assert row["expression"] == "count>10" and row["ok"] is True
    assert row["observed"] == r.metrics["http_reqs"]["values"]["count"]
    assert r.thresholds["http_req_failed"][0]["observed"] == 0
    assert "http_reqs" in r.summary_text
    assert capsys.readouterr().out == ""  # quiet by default: nothing on stdout


def test_a_failing_threshold_is_exit_99_and_named_with_its_value(base_url, tmp_path):
    out = tmp_path / "s.json"
    r = loadgen.run(Ping, duration="1s", rps=20, base_url=base_url, summary_json=str(out),
                    thresholds={"http_req_duration": ["p(99)<0.0001"]})
    assert r.exit_code == 99 and not r.passed
    assert r.files == [str(out)]
    assert json.loads(out.read_text())["metrics"]["http_reqs"]["values"]["count"] > 0
    [failed] = r.failed_thresholds()
    assert failed.startswith("http_req_duration: p(99)<0.0001 (observed ")
    assert "p(99)<0.0001" in r.explain()


def test_a_file_target_and_cli_spelling_of_options(base_url, tmp_path):
    f = tmp_path / "s.py"
    f.write_text("from loadgen import Scenario\n"
                 "class Hit(Scenario):\n"
                 "    async def iteration(self, vu):\n"
                 "        await vu.http.get('/')\n")
    r = loadgen.run(f, iterations=5, vus=1, env={"BASE_URL": base_url}, tag=["run=api"])
    assert r.exit_code == 0
    assert r.metrics["iterations"]["values"]["count"] == 5


def test_unknown_options_and_bad_values_are_named_all_at_once():
    with pytest.raises(OptionError) as e:
        loadgen.run(Ping, duraton="1s", rps="fast", http_client="curl")
    msg = str(e.value)
    assert "unknown option 'duraton'" in msg
    assert "rps='fast'" in msg and "http_client='curl'" in msg
    assert e.value.exit_code == 104 and isinstance(e.value, ConfigError)


def test_bad_scenarios_raise_the_cli_s_config_error(base_url):
    with pytest.raises(ConfigError) as e:
        loadgen.run(Ping, duration="1s", base_url=base_url,
                    thresholds={"http_req_duration": ["p(99) <<< 3"]})
    assert "p(99) <<< 3" in str(e.value)
    with pytest.raises(OptionError, match="Scenario subclass"):
        loadgen.run(object)  # type: ignore[arg-type]


def test_the_callers_signal_handlers_survive_a_run(base_url):
    before = signal.getsignal(signal.SIGINT)
    loadgen.run(Ping, iterations=1, base_url=base_url)
    assert signal.getsignal(signal.SIGINT) is before


async def test_run_async_and_run_inside_a_running_loop(base_url):
    r = await loadgen.run_async(Ping, iterations=3, base_url=base_url)
    assert r.exit_code == 0 and r.metrics["iterations"]["values"]["count"] == 3
    # run() in a loop: a thread with its own loop (and a warning), not a crash
    r2 = loadgen.run(Ping, iterations=2, base_url=base_url)
    assert r2.metrics["iterations"]["values"]["count"] == 2
    await asyncio.sleep(0)


def test_a_windowed_threshold_reports_its_window_s_value(base_url):
    r = loadgen.run(Ping, duration="2s", rps=30, base_url=base_url,
                    thresholds={"http_reqs": ["count over 1s > 100000"]})
    assert r.exit_code == 99
    [row] = r.thresholds["http_reqs"]
    # the first one-second window's count, not the whole run's
    assert row["ok"] is False and 10 <= row["observed"] <= 45


def test_workers_run_a_file_and_judge_windows_over_the_fleet_s_seconds(base_url, tmp_path):
    f = tmp_path / "hit.py"
    f.write_text("from loadgen import Scenario\n"
                 "class Hit(Scenario):\n"
                 "    async def iteration(self, vu):\n"
                 "        await vu.http.get('/')\n")
    r = loadgen.run(f, workers=2, duration="2s", rps=20, base_url=base_url,
                    thresholds={"http_reqs": ["count>10", "count over 1s > 5"]})
    assert r.exit_code == 0, r.explain()
    assert [row["ok"] for row in r.thresholds["http_reqs"]] == [True, True]
    assert r.thresholds["http_reqs"][0]["observed"] == r.metrics["http_reqs"]["values"]["count"]
    with pytest.raises(OptionError, match="needs a scenario file"):
        loadgen.run(Ping, workers=2, iterations=1)


def test_a_test_type_s_verdict_is_in_the_result(base_url):
    class Steady(loadgen.Baseline):
        async def iteration(self, vu: VU) -> None:
            await vu.http.get("/")

    r = loadgen.run(Steady, duration="2s", rps=20, base_url=base_url)
    [v] = r.verdicts
    assert v["scenario"] == "steady" and v["kind"] == "baseline" and v["ok"] is True
    assert "SLOs held" in v["headline"] and "VERDICTS" in r.summary_text


def test_a_file_that_fails_to_import_raises_the_cli_s_script_error(tmp_path):
    from loadgen.errors import ScriptError

    f = tmp_path / "broken.py"
    f.write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(ScriptError, match="boom at import") as e:
        loadgen.run(f, iterations=1)
    assert e.value.exit_code == 107
    with pytest.raises(ConfigError, match="does not exist"):
        loadgen.run(tmp_path / "missing.py", iterations=1)


def test_a_fleet_token_in_the_environment_is_not_a_request_but_listen_is_refused(
        base_url, monkeypatch):
    monkeypatch.setenv("LOADGEN_FLEET_TOKEN", "s3cret")
    assert loadgen.run(Ping, iterations=1, base_url=base_url).exit_code == 0
    with pytest.raises(OptionError, match="listen is for the command line"):
        loadgen.run(Ping, iterations=1, listen="127.0.0.1:6565")


async def test_workers_from_async_code_and_their_config_errors_raise(base_url, tmp_path):
    f = tmp_path / "hit.py"
    f.write_text("from loadgen import Scenario\n"
                 "class Hit(Scenario):\n"
                 "    async def iteration(self, vu):\n"
                 "        await vu.http.get('/')\n")
    # in a thread (no signal handlers there), windows judged over the fleet's seconds
    r = await loadgen.run_async(f, workers=2, duration="2s", rps=20, base_url=base_url,
                                thresholds={"http_reqs": ["count over 1s > 100000"]})
    assert r.exit_code == 99
    assert 10 <= r.thresholds["http_reqs"][0]["observed"] <= 45
    with pytest.raises(ConfigError, match="<<< 3"):
        await loadgen.run_async(f, workers=2, iterations=2, base_url=base_url,
                                thresholds={"http_req_duration": ["p(99) <<< 3"]})
