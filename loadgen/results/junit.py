"""`--junit FILE.xml`: a run's gates as JUnit test cases, for CI systems that show test
reports (GitLab, Jenkins, GitHub checks) rather than parse a load tool's log.

One `<testsuite>` per run (inside `<testsuites>`), one `<testcase>` per threshold expression,
per check and per test-type verdict, plus one for the run itself (an error when it did not
end cleanly: interrupted, aborted, a lost worker). A failure's message carries the observed
value and the limit; a threshold with no samples fails saying so; a verdict the run was too
short to decide is skipped. The shape is the common JUnit XSD's (Jenkins/Ant): counts,
`time` in seconds, `timestamp` as a local xs:dateTime without a zone (UTC here).

Written at the end like the other summary files, so an interrupted run (exit 105) or an
aborted one still leaves its report.
"""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadgen.errors import ExitCode
from loadgen.execution.engine import Outcome
from loadgen.metrics.model import Contains, SubMetric
from loadgen.results.judge import Judge, Judgement
from loadgen.summary.groups import SEP, Group, GroupTree


@dataclass
class Case:
    """One test case: `kind` is None (passed), "failure", "error" or "skipped"."""

    classname: str
    name: str
    kind: str | None = None
    message: str = ""
    detail: str = ""
    time_s: float = 0.0


def _fmt(value: float, time_ms: bool) -> str:
    return f"{value:.6g} ms" if time_ms else f"{value:.6g}"


def threshold_cases(judge: Judge, judgement: Judgement, duration_s: float) -> list[Case]:
    """One case per threshold expression, with the observed value beside the limit."""
    if judgement.evaluation is None:
        return []
    empty = set(judgement.no_samples)
    cases = []
    for mt in judge.tset.metrics:
        target = judge.targets.get(mt.name)
        parent = target.parent if isinstance(target, SubMetric) else target
        time_ms = parent is not None and parent.contains == Contains.TIME
        sink = judge.sink(mt.name)
        for spec, ok in zip(mt.specs, mt.last_ok, strict=True):
            case = Case("thresholds", f"{mt.name}: {spec.source}")
            ex = spec.expression
            limit = f"{ex.operator} {_fmt(ex.value, time_ms)}"
            if mt.name in empty or sink is None or sink.empty:
                observed = "no samples at all, so nothing to judge"
            else:
                value = sink.aggregate(ex.sink_key, duration_s)
                observed = ("no value" if value is None
                            else f"{ex.sink_key}={_fmt(value, time_ms)}")
            if not ok:
                case.kind = "failure"
                case.message = (f"{mt.name}: {spec.source} failed: observed {observed}, "
                                f"limit {limit}")
                if mt.name in empty:
                    case.message += " (counted as failed)"
            else:
                case.detail = f"observed {observed}, limit {limit}"
            cases.append(case)
    return cases


def _walk(group: Group) -> Iterator[tuple[Group, Any]]:
    for check in group.checks.values():
        yield group, check
    for sub in group.groups.values():
        yield from _walk(sub)


def check_cases(tree: GroupTree) -> list[Case]:
    """One case per check (per group: the same name in two groups is two checks)."""
    cases = []
    for group, c in _walk(tree.root):
        where = group.path.removeprefix(SEP).replace(SEP, " / ")
        case = Case("checks" + (f".{where}" if where else ""), c.name)
        total = c.passes + c.fails
        if c.fails:
            case.kind = "failure"
            case.message = (f"check {c.name!r} failed {c.fails} of {total} times "
                            f"({c.fails / total:.2%}); observed pass rate "
                            f"{c.passes / total:.2%}, limit 100%")
        cases.append(case)
    return cases


def verdict_cases(judgement: Judgement) -> list[Case]:
    cases = []
    for v in judgement.verdicts:
        case = Case("verdicts", f"{v.scenario} ({v.kind})", detail="\n".join(v.details))
        if v.ok is None:
            case.kind, case.message = "skipped", f"undecided: {v.headline}"
        elif not v.ok:
            case.kind, case.message = "failure", v.headline
        cases.append(case)
    return cases


def run_case(outcome: Outcome) -> list[Case]:
    """The run itself: it carries the run's duration (the judgements take no time of their
    own, so the cases' times add up to the suite's), and is an error a CI report shows
    when the load did not run to its end (interrupted, aborted, a lost worker)."""
    case = Case("run", "run completed", time_s=outcome.duration_ns / 1e9)
    if outcome.exit_code != ExitCode.OK:
        case.kind = "error"
        case.message = (f"the run ended early (exit code {outcome.exit_code}): "
                        f"{outcome.reason or 'no reason given'}")
    return [case]


def render_junit(name: str, cases: list[Case], *, duration_s: float, started_unix_s: float,
                 properties: dict[str, str] | None = None) -> str:
    """The XML document (pure: no files)."""
    counts = {k: sum(c.kind == k for c in cases) for k in ("failure", "error", "skipped")}
    stamp = datetime.fromtimestamp(started_unix_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    attrs = {"tests": str(len(cases)), "failures": str(counts["failure"]),
             "errors": str(counts["error"]), "time": f"{duration_s:.3f}"}
    root = ET.Element("testsuites", {"name": name, **attrs})
    suite = ET.SubElement(root, "testsuite", {
        "name": name, **attrs, "skipped": str(counts["skipped"]), "timestamp": stamp,
        "hostname": socket.gethostname() or "localhost", "id": "0"})
    if properties:
        props = ET.SubElement(suite, "properties")
        for k, v in properties.items():
            ET.SubElement(props, "property", {"name": k, "value": v})
    for c in cases:
        el = ET.SubElement(suite, "testcase", {"classname": c.classname, "name": c.name,
                                               "time": f"{c.time_s:.3f}"})
        if c.kind is not None:
            ET.SubElement(el, c.kind, {"message": c.message, "type": c.kind}).text = (
                c.detail or c.message)
        elif c.detail:
            ET.SubElement(el, "system-out").text = c.detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str, judge: Judge, judgement: Judgement,
                tree: GroupTree, outcome: Outcome) -> list[str]:
    """Write the report; a write that fails is returned (the run's exit code says 110)."""
    duration_s = outcome.duration_ns / 1e9
    cases = (threshold_cases(judge, judgement, duration_s) + check_cases(tree)
             + verdict_cases(judgement) + run_case(outcome))
    scenarios = ", ".join(s.name for s in judge.specs) or "run"
    text = render_junit(f"loadgen: {scenarios}", cases, duration_s=duration_s,
                        started_unix_s=time.time() - duration_s,
                        properties={"exit_code": str(judgement.exit_code),
                                    "reason": outcome.reason or ""})
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        return [f"--junit {path}: {e.strerror or e}"]
    return []
