"""`--webhook`: the Slack-compatible message, a post to a receiver on 127.0.0.1, and the
failures (500, a server that never answers, nobody listening, a bad URL) that come back as a
problem to warn about, within the deadline, without the URL's secrets."""

from __future__ import annotations

import base64
import time

import pytest
from history_fixtures import record
from webhook_servers import receiver

from loadgen.history.webhook import message, post, shown, url_problem

SECRETS = ("XSECRETX", "QSECRETQ", "pa55word")


def failing_run():  # type: ignore[no-untyped-def]
    rec = record(p95=250, thresholds={"p(95)<200": False, "avg<500": True}, exit_code=99)
    rec.thresholds[0].observed = 250.0
    return rec


def test_the_message_says_verdict_failures_percentiles_and_paths() -> None:
    msg = message(failing_run(), ["out/summary.json"])
    assert msg["text"].startswith("❌ loadgen failed: nightly (exit 99)")
    assert "1 threshold(s) failed" in msg["text"]
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    failed = msg["blocks"][1]["text"]["text"]
    assert "`http_req_duration` `p(95)&lt;200`: observed 250.00ms" in failed
    assert "avg" not in failed  # passing thresholds are not listed
    fields = [f["text"] for f in msg["blocks"][2]["fields"]]
    assert fields[:3] == ["*p50* 112.5 ms", "*p95* 250.0 ms", "*p99* 375.0 ms"]
    assert "summary: out/summary.json" in msg["blocks"][3]["elements"][0]["text"]
    ok = message(record(), [])
    assert ok["text"].startswith("✅ loadgen passed") and len(ok["blocks"]) == 3


def test_many_failed_thresholds_stay_within_slack_limits() -> None:
    rec = record(thresholds={f"p(95)<{i}" + " " * 200: False for i in range(40)}, exit_code=99)
    section = message(rec, [])["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("…")
    assert len(message(rec, [])["blocks"][0]["text"]["text"]) <= 150


def test_posted_to_a_receiver() -> None:
    with receiver("ok") as r:
        assert post(r.url, message(failing_run(), [])) is None
    assert r.messages[0]["text"].startswith("❌ loadgen failed")
    assert r.paths == ["/services/T000/B000/XSECRETX?token=QSECRETQ"]
    assert r.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"hook:pa55word").decode()


def test_a_500_is_a_problem_without_secrets() -> None:
    with receiver("fail") as r:
        problem = post(r.url, message(record(), []))
    assert problem is not None and "HTTP 500" in problem
    assert not [s for s in SECRETS if s in problem], problem
    assert problem.startswith("http://127.0.0.1:")


def test_a_server_that_never_answers_costs_the_deadline_only() -> None:
    with receiver("hang") as r:
        t0 = time.monotonic()
        problem = post(r.url, message(record(), []), deadline_s=0.5)
        took = time.monotonic() - t0
    assert problem is not None and "no answer within 0.5 s" in problem
    assert 0.4 < took < 1.5


def test_nobody_listening() -> None:
    with receiver("ok") as r:
        url = r.url
    problem = post(url, message(record(), []), deadline_s=1)
    assert problem is not None and "ConnectionRefusedError" in problem
    assert not [s for s in SECRETS if s in problem]


@pytest.mark.parametrize(("url", "bad"), [
    ("ftp://127.0.0.1/XSECRETX", True), ("http:///XSECRETX", True),
    ("http://127.0.0.1:99999/XSECRETX", True), ("https://127.0.0.1/XSECRETX", False)])
def test_urls_are_checked_and_never_printed_whole(url: str, bad: bool) -> None:
    problem = url_problem(url)
    assert (problem is not None) is bad
    assert "XSECRETX" not in (problem or "") and "XSECRETX" not in shown(url)
