"""`loadgen report ARCHIVE... -o FILE.html`: the HTML report of archived runs, after the fact.

The archives go through `loadgen merge` (validated whole, then judged as one run), with the
text summary off and the report on. A report of a failed run is still a report: the exit
code is 0 once the file is written (the run's own verdict is the page's headline), 104 for
bad input, 110 when the file cannot be written.
"""

from __future__ import annotations

import sys

from loadgen.commands.merge import merge_results, read_all
from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.report.build import report_problem
from loadgen.results.config import ResultsConfig
from loadgen.results.report import writable_problem


def report_archives(paths: list[str], out: str, threshold_files: list[str],
                    no_thresholds: bool) -> int:
    problem = writable_problem("-o", out) or report_problem("-o", out)
    if problem:  # listed with the archives' own problems, before any is merged
        problems = [problem]
        try:
            read_all(paths)
        except LoadgenError as e:
            problems += getattr(e, "problems", [str(e)])
        print(f"loadgen: {ConfigError(problems)}", file=sys.stderr)
        return int(ExitCode.INVALID_CONFIG)
    rcfg = ResultsConfig(threshold_files=threshold_files, no_thresholds=no_thresholds,
                         no_summary=True, report=out)
    code, results = merge_results(paths, rcfg)
    if results is None:
        return code
    if any(f.startswith("--report") for f in results.failures):
        return int(ExitCode.TEST_FAILED)
    verdict = "passed" if code == ExitCode.OK else f"did not pass: exit code {code}"
    print(f"loadgen: report written to {out} (the run {verdict})", file=sys.stderr)
    return int(ExitCode.OK)
