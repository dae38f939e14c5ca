"""The run history: one SQLite file (stdlib `sqlite3`), created on first use.

Why these choices: one transaction per run (a writer killed half-way leaves no half-written
run: SQLite rolls the journal back), WAL mode and a busy timeout (two CI jobs finishing at
the same moment both land: the second waits for the first's few milliseconds), and a schema
version table with forward-only migrations (an old history file keeps working after an
upgrade; a file written by a newer loadgen is refused rather than damaged).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from loadgen.errors import ExitCode, LoadgenError
from loadgen.history.record import RunRecord, ThresholdRow

#: how long a writer waits for another one's transaction (env LOADGEN_HISTORY_BUSY_TIMEOUT)
BUSY_TIMEOUT_S = 5.0

#: (version, SQL) in order; a history file at version N gets every later one, in one
#: transaction. Never edit a released entry: add a new one.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,          -- ISO 8601 UTC
        label TEXT NOT NULL,
        git_commit TEXT,                   -- NULL: not run in a git checkout
        exit_code INTEGER NOT NULL,
        duration_s REAL NOT NULL,
        options TEXT NOT NULL,             -- JSON, secrets left out
        generator TEXT NOT NULL,           -- JSON: the generator's health
        verdicts TEXT NOT NULL,            -- JSON: test-type verdicts
        slo TEXT NOT NULL,                 -- JSON: per-endpoint budgets (loadgen.slo)
        untimed TEXT NOT NULL DEFAULT '[]', -- JSON: trends whose values are not ms
        loadgen_version TEXT
    );
    CREATE INDEX runs_by_label ON runs (label, started_at);
    CREATE TABLE stats (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        scope TEXT NOT NULL,               -- metric | endpoint
        name TEXT NOT NULL,
        stat TEXT NOT NULL,                -- record.STATS
        value REAL NOT NULL,               -- ms for latencies, +inf: unserved
        PRIMARY KEY (run_id, scope, name, stat)
    ) WITHOUT ROWID;
    CREATE TABLE thresholds (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        source TEXT NOT NULL,
        ok INTEGER NOT NULL,
        observed REAL
    );
    CREATE INDEX thresholds_by_run ON thresholds (run_id);
    """),
]


class HistoryError(LoadgenError):
    """The history file cannot be used (exit 104 for the commands that read it; a warning
    for a run, whose own results never depend on it)."""

    exit_code = ExitCode.INVALID_CONFIG


def busy_timeout_s() -> float:
    raw = os.environ.get("LOADGEN_HISTORY_BUSY_TIMEOUT")
    try:
        value = float(raw) if raw else BUSY_TIMEOUT_S
    except ValueError:
        return BUSY_TIMEOUT_S
    return value if math.isfinite(value) and value >= 0 else BUSY_TIMEOUT_S


def _loadgen_version() -> str | None:
    try:
        return version("loadgen")
    except PackageNotFoundError:
        return None


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class HistoryStore:
    """An open history file. `create=False` (the reading commands): a missing file is an
    error naming it, not a new empty history."""

    def __init__(self, path: str | Path, *, create: bool = True, timeout_s: float | None = None,
                 migrations: Sequence[tuple[int, str]] = tuple(MIGRATIONS)) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise HistoryError(f"history {self.path}: no such file")
        if self.path.is_dir():
            raise HistoryError(f"history {self.path}: is a directory")
        timeout = busy_timeout_s() if timeout_s is None else timeout_s
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise HistoryError(f"history {self.path}: {e}") from None
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self.db.execute("PRAGMA foreign_keys = ON")
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                raise HistoryError(f"history {self.path}: cannot switch to WAL mode")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(migrations)
        except sqlite3.Error as e:
            self.db.close()
            raise HistoryError(f"history {self.path}: {e}") from None
        except HistoryError:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------
    def _migrate(self, migrations: Sequence[tuple[int, str]]) -> None:
        latest = max(v for v, _ in migrations)
        current = self.schema_version()
        if current == latest:
            return
        if current > latest:
            raise HistoryError(f"history {self.path}: schema version {current} was written by "
                               f"a newer loadgen (this one knows up to {latest})")
        self.db.execute("BEGIN IMMEDIATE")  # one migrator at a time
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version "
                            "(version INTEGER NOT NULL)")
            row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            for v, sql in sorted(migrations):
                if v > current:
                    for statement in sql.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (v,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        has = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                              "name = 'schema_version'").fetchone()
        if not has:
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- writing ----------------------------------------------------------------------------
    def add(self, rec: RunRecord) -> int:
        """Store one run, whole or not at all; returns its id."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                run_id = self._insert_run(rec)
                self._insert_stats(run_id, rec)
                self._insert_thresholds(run_id, rec)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise HistoryError(f"history {self.path}: {e}") from None
        rec.id = run_id
        return run_id

    def _insert_run(self, rec: RunRecord) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (started_at, label, git_commit, exit_code, duration_s, options, "
            "generator, verdicts, slo, untimed, loadgen_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.started_at, rec.label, rec.git_commit, rec.exit_code, rec.duration_s,
             _dumps(rec.options), _dumps(rec.generator), _dumps(rec.verdicts), _dumps(rec.slo),
             _dumps(rec.untimed), _loadgen_version()))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def _insert_stats(self, run_id: int, rec: RunRecord) -> None:
        self.db.executemany(
            "INSERT INTO stats (run_id, scope, name, stat, value) VALUES (?, ?, ?, ?, ?)",
            [(run_id, scope, name, stat, float(value))
             for (scope, name), stats in rec.stats.items() for stat, value in stats.items()
             if not math.isnan(value)])

    def _insert_thresholds(self, run_id: int, rec: RunRecord) -> None:
        self.db.executemany(
            "INSERT INTO thresholds (run_id, metric, source, ok, observed) "
            "VALUES (?, ?, ?, ?, ?)",
            [(run_id, t.metric, t.source, int(t.ok), t.observed) for t in rec.thresholds])

    # -- reading ----------------------------------------------------------------------------
    def runs(self, label: str | None = None, last: int | None = None) -> list[RunRecord]:
        """Runs in time order (oldest first), of one label or all; `last`: only the newest N."""
        sql = "SELECT id FROM runs" + (" WHERE label = ?" if label is not None else "")
        sql += " ORDER BY started_at DESC, id DESC"
        args: tuple[Any, ...] = (label,) if label is not None else ()
        if last is not None:
            sql += " LIMIT ?"
            args += (last,)
        try:
            ids = [int(r[0]) for r in self.db.execute(sql, args)]
        except sqlite3.Error as e:
            raise HistoryError(f"history {self.path}: {e}") from None
        return [self.get(i) for i in reversed(ids)]

    def labels(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute(
            "SELECT label FROM runs GROUP BY label ORDER BY min(started_at)")]

    def resolve(self, ref: str) -> int:
        """A run id as a user writes it: `12`, or `-1` for the newest, `-2` the one before."""
        try:
            n = int(ref)
        except ValueError:
            raise HistoryError(f"history {self.path}: run id {ref!r} is not a number "
                               "(an id, or -1 for the newest run)") from None
        if n < 0:
            row = self.db.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC "
                                  "LIMIT 1 OFFSET ?", (-n - 1,)).fetchone()
            if row is None:
                raise HistoryError(f"history {self.path}: has fewer than {-n} runs")
            return int(row[0])
        return n

    def previous(self, label: str) -> RunRecord | None:
        """The newest run of a label (before the one about to be added)."""
        row = self.db.execute("SELECT id FROM runs WHERE label = ? ORDER BY started_at DESC, "
                              "id DESC LIMIT 1", (label,)).fetchone()
        return self.get(int(row[0])) if row else None

    def get(self, run_id: int) -> RunRecord:
        try:
            row = self.db.execute(
                "SELECT id, started_at, label, git_commit, exit_code, duration_s, options, "
                "generator, verdicts, slo, untimed FROM runs WHERE id = ?",
                (run_id,)).fetchone()
            if row is None:
                raise HistoryError(f"history {self.path}: no run #{run_id}")
            rec = RunRecord(started_at=row[1], label=row[2], git_commit=row[3],
                            exit_code=int(row[4]), duration_s=float(row[5]),
                            options=json.loads(row[6]), generator=json.loads(row[7]),
                            verdicts=json.loads(row[8]), slo=json.loads(row[9]),
                            untimed=json.loads(row[10]), id=int(row[0]))
            for scope, name, stat, value in self.db.execute(
                    "SELECT scope, name, stat, value FROM stats WHERE run_id = ? "
                    "ORDER BY scope DESC, name, stat", (run_id,)):
                rec.stats.setdefault((scope, name), {})[stat] = float(value)
            rec.thresholds = [ThresholdRow(m, s, bool(ok), None if o is None else float(o))
                              for m, s, ok, o in self.db.execute(
                                  "SELECT metric, source, ok, observed FROM thresholds "
                                  "WHERE run_id = ? ORDER BY rowid", (run_id,))]
        except sqlite3.Error as e:
            raise HistoryError(f"history {self.path}: {e}") from None
        except ValueError as e:  # a JSON column someone edited by hand
            raise HistoryError(f"history {self.path}: run #{run_id} is damaged: {e}") from None
        return rec
