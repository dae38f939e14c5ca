"""The real CLI with history, Markdown and webhooks when things go wrong: a locked or damaged
history file, a webhook that answers 500 or never answers, bad URLs, rules and files. Each
case: the exit code (a side channel never changes it), the message, no traceback, bounded
memory and a bounded end."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from hostile_run import CliRun, run_cli
from urls import with_user

sys.path.insert(0, str(Path(__file__).parent.parent / "history"))
from webhook_servers import receiver  # noqa: E402

# server-less: 40 iterations adding V (+0..2) to a custom trend whose p95 must stay < 50
SCENARIO = """
from loadgen import VU, Scenario, SharedIterations, Trend
value = Trend("my_value")

class Nightly(Scenario):
    executor = SharedIterations(vus=2, iterations=40)
    thresholds = {"my_value": ["p(95)<50"]}

    async def iteration(self, vu: VU):
        value.add(float(vu.env.get("V", "10")) + vu.iteration % 3)
"""
MAX_RSS_MB = 400
RUN_S = 10  # a 40-iteration run without a server, with generous start-up on a busy machine
SECRETS = ("XSECRETX", "QSECRETQ", "pa55word")


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    p = tmp_path / "nightly.py"
    p.write_text(SCENARIO)
    return p


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a history of one passing run (h.db), for the commands that read it."""
    d = tmp_path_factory.mktemp("one_run")
    (d / "nightly.py").write_text(SCENARIO)
    r = run_cli("run", str(d / "nightly.py"), "-q", "--no-summary", "--history", str(d / "h.db"))
    assert r.code == 0, r.text[-3000:]
    (d / "notjson.txt").write_text("hello")
    return d


def ok(r: CliRun, code: int, wall_s: float = RUN_S) -> None:
    assert r.code == code, r.text[-3000:]
    r.assert_clean()
    assert r.peak_rss_mb < MAX_RSS_MB
    assert r.wall_s < wall_s


def runs(db: Path) -> list[dict]:  # type: ignore[type-arg]
    r = run_cli("history", str(db), "--json")
    ok(r, 0)
    return json.loads(r.out)  # type: ignore[no-any-return]


def test_a_run_is_recorded_with_its_label_exit_code_and_thresholds(scenario: Path,
                                                                   tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    ok(run_cli("run", str(scenario), "-q", "--history", str(db)), 0)
    ok(run_cli("run", str(scenario), "-q", "--history", str(db), "-e", "V=100",
               "--history-label", "slow", "--no-summary"), 99)
    [first, second] = runs(db)
    assert (first["label"], first["exit_code"], second["label"], second["exit_code"]) == (
        "nightly", 0, "slow", 99)
    assert second["thresholds"] == [{"metric": "my_value", "source": "p(95)<50", "ok": False,
                                     "observed": 102.0}]
    assert second["options"]["env"] == ["V=***"]
    mine = [s for s in second["stats"] if s["name"] == "my_value"][0]
    assert mine["p99"] == 102 and mine["p50"] == 101
    r = run_cli("history", str(db), "--label", "slow")
    ok(r, 0)
    assert "failed (99)" in r.out and "nightly" not in r.out


def test_a_locked_history_is_a_warning_and_changes_nothing(scenario: Path,
                                                           tmp_path: Path) -> None:
    db, out = tmp_path / "h.db", tmp_path / "s.json"
    ok(run_cli("run", str(scenario), "-q", "--no-summary", "--history", str(db)), 0)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = run_cli("run", str(scenario), "-q", "--history", str(db), "-e", "V=100",
                    "--summary-json", str(out), env={"LOADGEN_HISTORY_BUSY_TIMEOUT": "0.3"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    ok(r, 99)
    assert "database is locked: this run was not added to the history (its results and " \
           "exit code are unaffected)" in r.err
    assert json.loads(out.read_text())["metrics"]["my_value"]["values"]["max"] == 102
    assert len(runs(db)) == 1


@pytest.mark.parametrize(("damage", "message"), [
    ("garbage", "file is not a database"), ("unwritable", "disk I/O error")])
def test_a_damaged_or_unwritable_history_is_a_warning(damage: str, message: str,
                                                      scenario: Path, tmp_path: Path) -> None:
    db, out = tmp_path / "h.db", tmp_path / "s.json"
    if damage == "garbage":
        db.write_bytes(b"not sqlite at all " * 500)
    else:  # a history whose write-ahead log cannot be created (root ignores file modes)
        sqlite3.connect(db).close()
        (tmp_path / "h.db-wal").mkdir()
    r = run_cli("run", str(scenario), "-q", "--history", str(db), "-e", "V=100",
                "--summary-json", str(out))
    ok(r, 99)
    assert f"history {db}: {message}: this run was not added" in r.err
    assert json.loads(out.read_text())["metrics"]["my_value"]["values"]["max"] == 102


def test_bad_paths_and_urls_are_104_before_the_run(scenario: Path, tmp_path: Path) -> None:
    r = run_cli("run", str(scenario), "-q", "--history", str(tmp_path / "no" / "h.db"),
                "--summary-markdown", str(tmp_path / "nope" / "s.md"),
                "--webhook", with_user("ftp://127.0.0.1/XSECRETX?QSECRETQ", "u", "pa55word"))
    ok(r, 104)
    assert "--history" in r.err and "does not exist" in r.err
    assert "--summary-markdown" in r.err
    assert "--webhook ftp://127.0.0.1/…: an http:// or https:// URL" in r.err
    assert not [s for s in SECRETS if s in r.text]
    assert "iterations" not in r.out  # it never ran


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_webhook_that_fails_or_hangs_is_a_warning(mode: str, scenario: Path) -> None:
    with receiver(mode) as hook:
        r = run_cli("run", str(scenario), "-q", "--no-summary", "-e", "V=100",
                    "--webhook", hook.url)
    ok(r, 99, RUN_S + 3)  # the run, plus the webhook's 3 s deadline at most
    assert len(hook.paths) == 1
    assert "webhook not sent: http://127.0.0.1:" in r.err
    assert ("HTTP 500" if mode == "fail" else "no answer within 3 s") in r.err
    assert "results and exit code are unaffected" in r.err
    assert not [s for s in SECRETS if s in r.text]


def test_a_webhook_only_on_failure_unless_always(scenario: Path, tmp_path: Path) -> None:
    with receiver("ok") as hook:
        ok(run_cli("run", str(scenario), "-q", "--no-summary", "--webhook", hook.url), 0)
        assert hook.messages == []
        ok(run_cli("run", str(scenario), "-q", "--no-summary", "--webhook", hook.url,
                   "--webhook-on", "always", "--summary-json", str(tmp_path / "s.json")), 0)
    [msg] = hook.messages
    assert msg["text"].startswith("✅ loadgen passed: nightly (exit 0)")
    assert str(tmp_path / "s.json") in json.dumps(msg)


def test_markdown_auto_appends_to_the_step_summary_or_says_why_not(scenario: Path,
                                                                   tmp_path: Path) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    r = run_cli("run", str(scenario), "-q", "--no-summary", "-e", "V=100",
                "--summary-markdown", "auto", env={"GITHUB_STEP_SUMMARY": str(step)})
    ok(r, 99)
    text = step.read_text()
    assert text.startswith("earlier step\n## ❌ loadgen failed: nightly")
    assert "| my_value | p(95)&lt;50 | 102 |" in text  # not a time: no "ms"
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    r = run_cli("run", str(scenario), "-q", "--no-summary", "--summary-markdown", "auto",
                env={"GITHUB_STEP_SUMMARY": ""} if "GITHUB_STEP_SUMMARY" in env else None)
    ok(r, 0)
    assert "GITHUB_STEP_SUMMARY is not set" in r.err


def test_compare_history_runs_summary_files_and_archives(scenario: Path,
                                                         tmp_path: Path) -> None:
    db, sj, arc = tmp_path / "h.db", tmp_path / "s.json", tmp_path / "a.ndjson"
    ok(run_cli("run", str(scenario), "-q", "--no-summary", "--history", str(db)), 0)
    ok(run_cli("run", str(scenario), "-q", "--history", str(db), "-e", "V=30",
               "--summary-json", str(sj), "--archive", str(arc)), 0)
    rule = ("--fail-on", "my_value.p95>+10%")
    r = run_cli("compare", f"{db}#1", f"{db}#-1", *rule)
    ok(r, 99)
    assert "✗ 1 regression(s) against my_value.p95>+10%" in r.out
    r = run_cli("compare", "1", "2", "--history", str(db), *rule, "--json")
    ok(r, 99)
    assert json.loads(r.out)["regressions"] == [
        {"name": "my_value", "scope": "metric", "stat": "p95", "rules": ["my_value.p95>+10%"]}]
    for same in (str(sj), str(arc)):  # the same run, read back from its files
        r = run_cli("compare", f"{db}#2", same, *rule, "--json")
        ok(r, 0)
        row = [x for x in json.loads(r.out)["rows"] if x["name"] == "my_value"
               and x["stat"] == "p95"][0]
        assert row["delta"] == 0, row


@pytest.mark.parametrize(("args", "message"), [
    (["missing.json", "missing.json"], "missing.json: no such file"),
    (["h.db#1", "h.db#9"], "no run #9"),
    (["nohist.db#1", "h.db#1"], "nohist.db: no such file"),
    (["notjson.txt", "h.db#1"], "not valid JSON"),
    (["h.db#1", "h.db#1", "--fail-on", "p95 up a lot"], "--fail-on 'p95 up a lot': not a rule"),
    (["1", "2"], "1: no such file"),
])
def test_compare_bad_input_is_104_naming_it(args: list[str], message: str,
                                            one_run: Path) -> None:
    r = run_cli("compare", *args, cwd=str(one_run))
    ok(r, 104)
    assert message in r.err, r.err


def test_trend_with_too_few_runs_says_so_and_exits_104(one_run: Path, tmp_path: Path) -> None:
    db = one_run / "h.db"
    r = run_cli("trend", "--history", str(db), "--html", str(tmp_path / "t.html"))
    ok(r, 104)
    assert "NOT ENOUGH RUNS: 1 run(s) of 'nightly'; the gate needs 10" in r.out
    assert "not enough runs to judge" in (tmp_path / "t.html").read_text()
    r = run_cli("trend", "--history", str(tmp_path / "none.db"))
    ok(r, 104)
    assert "none.db: no such file" in r.err


def test_merge_and_workers_record_one_run_each(scenario: Path, tmp_path: Path) -> None:
    db, arc = tmp_path / "h.db", tmp_path / "a.ndjson"
    ok(run_cli("run", str(scenario), "-q", "--no-summary", "--archive", str(arc)), 0)
    ok(run_cli("merge", str(arc), "--no-summary", "--history", str(db)), 0)
    ok(run_cli("run", str(scenario), "-q", "--no-summary", "--workers", "2", "--history",
               str(db), "--history-label", "fleet"), 0, RUN_S + 10)
    [merged, fleet] = runs(db)
    assert merged["label"] == "nightly" and fleet["label"] == "fleet"
    count = {r["label"]: [s for s in r["stats"] if s["name"] == "iterations"][0]["count"]
             for r in (merged, fleet)}
    assert count == {"nightly": 40, "fleet": 40}  # the fleet's run once, not per worker


INTERRUPTIBLE = """
from pathlib import Path
from loadgen import VU, ConstantVUs, Scenario

class Long(Scenario):
    executor = ConstantVUs(vus=1, duration="60s")

    async def iteration(self, vu: VU):
        Path(vu.env["MARK"]).touch()
        await vu.sleep(0.05)
"""


def test_an_interrupted_run_is_recorded_as_interrupted(tmp_path: Path) -> None:
    script, db, mark = tmp_path / "long.py", tmp_path / "h.db", tmp_path / "running"
    script.write_text(INTERRUPTIBLE)

    def interrupt() -> None:
        end = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < end:
            time.sleep(0.02)
        for p in psutil.Process().children():
            if "long.py" in " ".join(p.cmdline()):
                p.send_signal(signal.SIGINT)  # as Ctrl-C

    t = threading.Thread(target=interrupt, daemon=True)
    t.start()
    r = run_cli("run", str(script), "-q", "--no-summary", "--history", str(db),
                "-e", f"MARK={mark}")
    t.join(5)
    ok(r, 105, 30)  # far below the scenario's 60 s: the signal ended it
    [run] = runs(db)
    assert run["exit_code"] == 105 and run["verdict"] == "interrupted"
