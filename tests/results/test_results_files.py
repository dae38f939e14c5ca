"""Result files are never lost to one bad output: paths are checked before the run, each
writer fails on its own, the text summary survives, and the exit code says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from results_helpers import make, request

from loadgen.errors import ConfigError, ExitCode
from loadgen.execution.engine import Outcome
from loadgen.results.config import ResultsConfig

S = 1_000_000_000
FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")

SCENARIO = """
from loadgen import Scenario, SharedIterations

class S(Scenario):
    executor = SharedIterations(vus=1, iterations=3)

    async def iteration(self, vu):
        vu.check(1, {"one": lambda v: v == 1})
"""


def test_a_summary_path_in_a_missing_directory_is_a_config_error_before_the_run(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        make(ResultsConfig(summary_export=str(tmp_path / "nope" / "e.json"),
                           summary_json=str(tmp_path)))
    assert "does not exist" in str(e.value) and "is a directory" in str(e.value)


@needs_dev_full
def test_a_full_disk_loses_one_file_not_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "e.json"
    res, _, rec = make(ResultsConfig(summary_export=str(export), summary_json=FULL,
                                     outputs=[f"json={FULL}"]))
    request(rec, 1.0)
    res.ingest(rec.drain())
    code = res.finish(Outcome(ExitCode.OK, S))
    assert code == ExitCode.TEST_FAILED
    assert json.loads(export.read_text())["metrics"]["http_reqs"]["count"] == 1
    assert "http_reqs" in capsys.readouterr().out
    assert len(res.streams.failures) == 1


@needs_dev_full
def test_a_stream_that_fails_mid_run_is_dropped_and_the_run_goes_on(tmp_path: Path) -> None:
    res, _, rec = make(ResultsConfig(no_summary=True, outputs=[f"json={FULL}"]))
    request(rec, 1.0)
    res.ingest(rec.drain())
    res.streams._last_flush = 0  # due now
    res.streams.after_ingest()
    assert res.streams.failures and not res.streams.raw
    request(rec, 500.0)
    res.ingest(rec.drain())  # no exception, still judged
    assert res.finish(Outcome(ExitCode.OK, S)) == ExitCode.THRESHOLDS_FAILED


def _run(tmp_path: Path, *extra: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    script = tmp_path / "s.py"
    script.write_text(SCENARIO)
    return subprocess.run([sys.executable, "-m", "loadgen", "run", str(script), "-q", *extra],
                          stderr=subprocess.PIPE, timeout=60, check=False, **kw)  # type: ignore[call-overload]


def test_a_closed_stdout_neither_crashes_nor_loses_the_files(tmp_path: Path) -> None:
    export = tmp_path / "e.json"
    r, w = os.pipe()
    os.close(r)  # the reader is gone: every write to stdout fails with EPIPE
    try:
        p = _run(tmp_path, "--summary-export", str(export), stdout=w)
    finally:
        os.close(w)
    assert b"Traceback" not in p.stderr, p.stderr.decode()
    assert p.returncode == ExitCode.TEST_FAILED, p.stderr.decode()
    assert json.loads(export.read_text())["metrics"]["iterations"]["count"] == 3


def test_a_closed_stdout_descriptor_is_not_a_traceback(tmp_path: Path) -> None:
    p = _run(tmp_path, "--no-summary", preexec_fn=lambda: os.close(1))
    assert b"Traceback" not in p.stderr, p.stderr.decode()
    assert p.returncode == 0
