"""The essential rules of the common JUnit XSD (the Jenkins/Ant schema CI tools accept),
checked by hand so that a report that parses but would be rejected or misread still fails
a test: the element tree, the required attributes and their value types, and counts that
agree with the test cases."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # xs:dateTime, no zone
DECIMAL = re.compile(r"^\d+(\.\d+)?$")
SUITE_CHILDREN = {"properties", "testcase", "system-out", "system-err"}
CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}


def check_junit_shape(text: str) -> list[str]:
    """Every way `text` departs from the schema's shape ([] when it conforms)."""
    problems: list[str] = []
    root = ET.fromstring(text)
    suites = [root] if root.tag == "testsuite" else list(root)
    if root.tag not in ("testsuites", "testsuite"):
        return [f"root element is <{root.tag}>"]
    for suite in suites:
        if suite.tag != "testsuite":
            problems.append(f"<testsuites> holds a <{suite.tag}>")
            continue
        for attr in ("name", "tests", "failures", "errors", "time", "timestamp", "hostname"):
            if attr not in suite.attrib:
                problems.append(f"testsuite lacks {attr}")
        if not DATETIME.match(suite.get("timestamp", "")):
            problems.append(f"timestamp {suite.get('timestamp')!r} is not an xs:dateTime "
                            "without a zone")
        if not DECIMAL.match(suite.get("time", "")):
            problems.append(f"testsuite time {suite.get('time')!r} is not a decimal")
        cases = [c for c in suite if c.tag == "testcase"]
        problems += [f"testsuite holds a <{c.tag}>" for c in suite if c.tag not in SUITE_CHILDREN]
        kinds = {"failure": 0, "error": 0, "skipped": 0}
        for case in cases:
            for attr in ("name", "classname", "time"):
                if not case.get(attr):
                    problems.append(f"testcase {case.get('name')!r} lacks {attr}")
            if not DECIMAL.match(case.get("time", "")):
                problems.append(f"testcase time {case.get('time')!r} is not a decimal")
            outcomes = [c for c in case if c.tag in kinds]
            if len(outcomes) > 1:
                problems.append(f"testcase {case.get('name')!r} has several outcomes")
            for child in case:
                if child.tag not in CASE_CHILDREN:
                    problems.append(f"testcase holds a <{child.tag}>")
                elif child.tag in ("failure", "error") and not child.get("message"):
                    problems.append(f"{child.tag} of {case.get('name')!r} has no message")
                if child.tag in kinds:
                    kinds[child.tag] += 1
        if suite.get("tests") != str(len(cases)):
            problems.append(f"tests={suite.get('tests')} but {len(cases)} testcases")
        for kind, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if suite.get(attr, "0") != str(kinds[kind]):
                problems.append(f"{attr}={suite.get(attr)} but {kinds[kind]} <{kind}>")
    if root.tag == "testsuites":
        for attr in ("tests", "failures", "errors"):
            total = sum(int(x.get(attr, "0")) for x in suites if x.tag == "testsuite")
            if attr in root.attrib and root.get(attr) != str(total):
                problems.append(f"testsuites {attr}={root.get(attr)} but its suites sum to "
                                f"{total}")
    return problems
