"""`--summary-markdown`: the job summary parsed back with a small GitHub-table parser of our
own: the verdict, failed thresholds with values, the endpoint table with SLO budgets, the
comparison with the previous run, and cells that cannot break the table."""

from __future__ import annotations

import re

from history_fixtures import endpoint, record

from loadgen.history.compare import compare, parse_rules
from loadgen.history.markdown import render


def tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Each `### heading`'s table as rows of {column: cell}, unescaping `\\|`."""
    out: dict[str, list[dict[str, str]]] = {}
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            heading = line[4:]
        if line.startswith("|") and i + 1 < len(lines) and re.fullmatch(
                r"\|( -{3,}:? \|)+", lines[i + 1]):
            head = split(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = split(lines[i])
                assert len(cells) == len(head), lines[i]
                rows.append(dict(zip(head, cells, strict=True)))
                i += 1
            out[heading] = rows
            continue
        i += 1
    return out


def split(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|").replace("&lt;", "<").replace("&gt;", ">")
            for c in cells]


def test_verdict_failed_thresholds_endpoints_and_budgets() -> None:
    rec = record(p95=250, thresholds={"p(95)<200": False}, exit_code=99,
                 endpoints=[endpoint("messages", 180), endpoint("a|b", 420, error_rate=0.02)],
                 slo={"messages": {"p95": 200, "p99": 400},
                      "a|b": {"p95": 300, "error_rate": 0.01}})
    rec.thresholds[0].observed = 250.0
    text = render(rec)
    assert text.startswith("## ❌ loadgen failed: nightly\n")
    t = tables(text)
    assert t["Failed thresholds"] == [{"metric": "http_req_duration", "threshold": "p(95)<200",
                                       "observed": "250.00ms"}]
    rows = {r["endpoint"]: r for r in t["Endpoints"]}
    assert set(rows) == {"messages", "a|b"}  # the pipe did not cut the table
    assert rows["messages"]["p95"] == "180.00ms" and rows["messages"]["p99"] == "270.00ms"
    assert rows["messages"]["SLO budget"] == "p95 ≤ 200 ms ✓ · p99 ≤ 400 ms ✓"
    assert rows["a|b"]["SLO budget"] == "p95 ≤ 300 ms ✗ · error_rate ≤ 0.01 ✗"
    assert rows["a|b"]["error_rate"] == "2.00%"
    assert "Compared" not in text


def test_comparison_with_the_previous_run() -> None:
    prev = record(p95=100, endpoints=[endpoint("messages", 100)])
    prev.id = 7
    cur = record(p95=150, endpoints=[endpoint("messages", 100)])
    text = render(cur, compare(prev, cur, parse_rules([])))
    [(heading, rows)] = [(h, r) for h, r in tables(text).items() if h.startswith("Compared")]
    assert "#7 nightly" in heading
    p95 = [r for r in rows if r["name"] == "http_req_duration" and r["stat"] == "p95"][0]
    assert p95 == {"": "✗", "name": "http_req_duration", "stat": "p95", "previous": "100.00ms",
                   "current": "150.00ms", "change": "+50.0%"}
    assert "2 regression(s) by the rules `p95>+10%`" in text


def test_no_endpoints_key_no_endpoint_table() -> None:
    assert "Endpoints" not in tables(render(record()))
    assert render(record()).startswith("## ✅ loadgen passed: nightly")
