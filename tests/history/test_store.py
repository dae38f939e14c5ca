"""The SQLite history: schema and migrations, a run stored whole or not at all (a writer
killed mid-transaction), two writing processes at once, a locked file."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from history_fixtures import endpoint, record

from loadgen.history.record import ThresholdRow
from loadgen.history.store import MIGRATIONS, HistoryError, HistoryStore

HERE = Path(__file__).parent


def child(code: str, *args: str) -> subprocess.Popen[bytes]:
    """A Python process with this folder's helpers importable."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get(
        "PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env)


def wait_for(path: Path, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.01)


def test_created_on_first_use_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryStore(path) as store:
        assert store.schema_version() == max(v for v, _ in MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert path.is_file()


def test_a_run_round_trips_with_unserved_and_thresholds(tmp_path: Path) -> None:
    rec = record(endpoints=[endpoint("messages", 120.0)], thresholds={"p(95)<100": False})
    rec.stats[("metric", "iteration_latency")] = {"p99": math.inf, "p50": 3.0}
    rec.thresholds.append(ThresholdRow("iteration_latency", "p(99)<10", False, math.inf))
    rec.git_commit = "a" * 40
    rec.options = {"vus": 3, "env": ["TOKEN=***"]}
    with HistoryStore(tmp_path / "h.db") as store:
        run_id = store.add(rec)
        back = store.get(run_id)
    assert back.id == run_id == rec.id
    assert back.stats == rec.stats
    assert back.stats[("endpoint", "messages")]["p95"] == 120.0
    assert back.thresholds == rec.thresholds
    assert (back.label, back.started_at, back.git_commit, back.options) == (
        "nightly", "2026-11-01T02:00:00Z", "a" * 40, {"vus": 3, "env": ["TOKEN=***"]})


def test_listing_by_label_newest_n_and_relative_ids(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        for day in range(1, 6):
            store.add(record("a" if day % 2 else "b", f"2026-11-0{day}T02:00:00Z"))
        assert [r.started_at[8:10] for r in store.runs("a")] == ["01", "03", "05"]
        assert [r.started_at[8:10] for r in store.runs(last=2)] == ["04", "05"]
        assert store.resolve("-1") == 5 and store.resolve("-2") == 4
        assert store.previous("b") is not None and store.previous("b").started_at[8:10] == "04"
        assert store.labels() == ["a", "b"]
        with pytest.raises(HistoryError, match="fewer than 9 runs"):
            store.resolve("-9")
        with pytest.raises(HistoryError, match="no run #99"):
            store.get(99)


def test_an_old_file_is_migrated_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryStore(path) as store:
        store.add(record())
    v2 = [*MIGRATIONS, (2, "ALTER TABLE runs ADD COLUMN note TEXT")]
    with HistoryStore(path, migrations=v2) as store:
        assert store.schema_version() == 2
        assert store.get(1).label == "nightly"  # the old row survived
        assert "note" in [r[1] for r in store.db.execute("PRAGMA table_info(runs)")]
    with pytest.raises(HistoryError, match="schema version 2 was written by a newer loadgen"):
        HistoryStore(path)


def test_reading_commands_do_not_create_and_name_bad_files(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such file"):
        HistoryStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just bytes " * 200)
    with pytest.raises(HistoryError, match=r"junk\.db: file is not a database"):
        HistoryStore(junk, create=False)


def test_a_writer_killed_mid_transaction_leaves_no_half_run(tmp_path: Path) -> None:
    db, marker = tmp_path / "h.db", tmp_path / "inside"
    with HistoryStore(db) as store:
        store.add(record(started_at="2026-11-01T01:00:00Z"))
    proc = child("""
        import os, sys, time
        from history_fixtures import record
        from loadgen.history.store import HistoryStore
        store = HistoryStore(sys.argv[1])
        real = store._insert_stats
        def stats_then_hang(run_id, rec):
            real(run_id, rec)  # the run row and its stats are written, thresholds are not
            with open(sys.argv[2] + ".part", "w") as f:
                f.write(str(run_id))
            os.replace(sys.argv[2] + ".part", sys.argv[2])  # the parent sees it whole or not
            time.sleep(60)
        store._insert_stats = stats_then_hang
        store.add(record(started_at="2026-11-02T01:00:00Z", thresholds={"p(95)<1": False}))
        """, str(db), str(marker))
    try:
        wait_for(marker)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert marker.read_text() == "2"  # it was inside the transaction, run #2 in flight
    with HistoryStore(db) as store:
        assert [r.id for r in store.runs()] == [1]
        assert store.db.execute("SELECT count(*) FROM stats WHERE run_id = 2").fetchone() == (0,)
        store.add(record(started_at="2026-11-03T01:00:00Z"))  # nothing stays locked
        assert len(store.runs()) == 2


def test_two_processes_writing_at_once_both_land(tmp_path: Path) -> None:
    db, go = tmp_path / "h.db", tmp_path / "go"  # both create it: the first use races too
    code = """
        import os, sys, time
        from history_fixtures import record
        from loadgen.history.store import HistoryStore
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.005)
        for i in range(25):
            with HistoryStore(sys.argv[1]) as store:
                store.add(record(sys.argv[3], f"2026-11-01T02:00:{i:02d}Z"))
        """
    procs = [child(code, str(db), str(go), label) for label in ("job-a", "job-b")]
    go.write_text("")
    assert [p.wait(30) for p in procs] == [0, 0]
    with HistoryStore(db) as store:
        assert len(store.runs("job-a")) == len(store.runs("job-b")) == 25


def test_a_writer_waits_for_another_ones_transaction(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    HistoryStore(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO runs (started_at, label, exit_code, duration_s, options, "
                  "generator, verdicts, slo) VALUES ('x', 'other', 0, 0, '{}', '{}', '{}', '{}')")
    t0 = time.monotonic()
    proc = child("""
        import sys
        from history_fixtures import record
        from loadgen.history.store import HistoryStore
        with HistoryStore(sys.argv[1], timeout_s=10) as store:
            store.add(record("mine"))
        """, str(db))
    time.sleep(0.4)
    other.execute("COMMIT")
    other.close()
    assert proc.wait(15) == 0
    assert time.monotonic() - t0 >= 0.4
    with HistoryStore(db) as store:
        assert {r.label for r in store.runs()} == {"other", "mine"}


def test_a_locked_file_is_an_error_after_the_busy_timeout(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    HistoryStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        store = HistoryStore(db, timeout_s=0.2)  # opening reads only: it does not wait
        with pytest.raises(HistoryError, match="locked"):
            store.add(record())
        store.close()
        assert time.monotonic() - t0 < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
