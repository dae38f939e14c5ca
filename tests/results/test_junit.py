"""`--junit`: a run's thresholds, checks and verdicts as JUnit test cases, read back with a
JUnit library and checked against the schema's shape."""

from __future__ import annotations

from pathlib import Path

import junitparser
from junit_shape import check_junit_shape
from results_helpers import S, make, request, tags

from loadgen.errors import ExitCode
from loadgen.execution.engine import Outcome
from loadgen.results.config import ResultsConfig
from loadgen.results.judge import Judgement
from loadgen.results.junit import Case, render_junit, verdict_cases
from loadgen.testtypes.verdict import Verdict


def cases_by_name(path: Path) -> dict[str, junitparser.TestCase]:
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1  # one <testsuite> per run
    return {c.name: c for c in suites[0]}


def test_thresholds_and_checks_become_cases_with_observed_value_and_limit(
        tmp_path: Path) -> None:
    out = tmp_path / "j.xml"
    res, reg, rec = make(ResultsConfig(junit=str(out)))
    for ms in (5.0, 500.0, 600.0):
        request(rec, ms)
    rec.sample(reg["checks"], 1.0, tags(check="ok"), 1)
    rec.sample(reg["checks"], 0.0, tags(check="ok"), 1)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.OK, 3 * S)) == ExitCode.THRESHOLDS_FAILED
    text = out.read_text()
    assert check_junit_shape(text) == []
    cases = cases_by_name(out)
    gate = cases["http_req_duration: p(95)<100"]
    assert not gate.is_passed
    msg = gate.result[0].message
    assert "observed p(95)=" in msg and "590" in msg and "limit < 100 ms" in msg
    check = cases["ok"]
    assert not check.is_passed and "failed 1 of 2 times" in check.result[0].message
    suite = next(iter(junitparser.JUnitXml.fromfile(str(out))))
    assert suite.tests == 3 and suite.failures == 2 and suite.time == 3.0
    assert suite.timestamp is not None
    assert cases["run completed"].is_passed and cases["run completed"].time == 3.0
    assert sum(c.time for c in cases.values()) == suite.time


def test_a_threshold_with_no_samples_fails_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "j.xml"
    res, _, _ = make(ResultsConfig(junit=str(out)))
    res.finish(Outcome(ExitCode.OK, S))
    case = cases_by_name(out)["http_req_duration: p(95)<100"]
    assert not case.is_passed
    assert "no samples at all" in case.result[0].message


def test_an_interrupted_run_still_writes_its_report_with_an_error_case(tmp_path: Path) -> None:
    out = tmp_path / "j.xml"
    res, _, rec = make(ResultsConfig(junit=str(out)))
    request(rec, 5.0)
    res.ingest(rec.drain())
    assert res.finish(Outcome(ExitCode.EXTERNAL_ABORT, S, "interrupted by signal")) == 105
    assert check_junit_shape(out.read_text()) == []
    cases = cases_by_name(out)
    assert cases["http_req_duration: p(95)<100"].is_passed
    run = cases["run completed"]
    assert isinstance(run.result[0], junitparser.Error)
    assert "exit code 105" in run.result[0].message
    assert "interrupted by signal" in run.result[0].message


def test_verdicts_pass_fail_or_are_skipped_when_undecided() -> None:
    j = Judgement(0, None, [Verdict("spike", "a", True, "recovered in 3 s"),
                            Verdict("stress", "b", False, "broke at 400/s"),
                            Verdict("soak", "c", None, "too short")])
    kinds = [c.kind for c in verdict_cases(j)]
    assert kinds == [None, "failure", "skipped"]


def test_the_shape_check_catches_a_report_that_lies_about_its_counts() -> None:
    text = render_junit("x", [Case("c", "n", "failure", "bad")], duration_s=1.0,
                        started_unix_s=0.0)
    assert check_junit_shape(text) == []
    for nth in (1, 2):  # <testsuites>, then <testsuite>
        lie = text.replace('failures="1"', "X", nth - 1).replace('failures="1"', 'failures="0"',
                                                                 1).replace("X", 'failures="1"')
        assert check_junit_shape(lie) != []
    assert check_junit_shape(text.replace('timestamp="1970-01-01T00:00:00"',
                                          'timestamp="yesterday"')) != []
