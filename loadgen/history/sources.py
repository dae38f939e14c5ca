"""What `loadgen compare` accepts as a run: a history entry (`PATH#12`, `PATH#-1` for the
newest, or a bare id with `--history PATH`), a `--summary-export` / `--summary-json` file, or
a results archive (rebuilt through `loadgen merge`'s replay). Anything else is exit 104
naming the argument.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from loadgen.errors import ConfigError, LoadgenError
from loadgen.history.record import RunRecord, from_summary
from loadgen.history.store import HistoryStore

log = logging.getLogger("loadgen")


def load_run(ref: str, history: str | None = None) -> RunRecord:
    path, sep, run_id = ref.rpartition("#")
    if sep and path:
        with HistoryStore(path, create=False) as store:
            return store.get(store.resolve(run_id))
    if history is not None and _looks_like_id(ref) and not Path(ref).exists():
        with HistoryStore(history, create=False) as store:
            return store.get(store.resolve(ref))
    p = Path(ref)
    if not p.is_file():
        raise ConfigError(f"{ref}: no such file, and not a history run (PATH#ID, or an id "
                          "with --history PATH)")
    try:
        with p.open("rb") as f:
            first = f.readline(1 << 20)
    except OSError as e:
        raise ConfigError(f"{ref}: {e.strerror or e}") from None
    if first.lstrip().startswith(b"{") and b'"loadgen-archive"' in first:
        return _archive(ref)
    from loadgen.commands.check import load_summary_file

    doc = load_summary_file(p)
    if not isinstance(doc.get("metrics"), dict):
        raise ConfigError(f"{ref}: not a k6/loadgen summary (no 'metrics' object) nor a "
                          "results archive")
    return from_summary(doc, label=p.stem, started_at=_mtime(p))


def _looks_like_id(ref: str) -> bool:
    return ref.lstrip("-").isdigit()


def _mtime(p: Path) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(p.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _archive(ref: str) -> RunRecord:
    """The archive's run as `loadgen merge` would summarize it (nothing printed)."""
    from loadgen.commands.merge import outcome, read_all, replay
    from loadgen.results.config import ResultsConfig

    results = None
    try:
        infos = read_all([ref])
        results = replay(infos, ResultsConfig(no_summary=True))
        out = outcome(infos)
        judgement = results.judge.final(out)
        summary = results.report(out, judgement)
    except LoadgenError as e:
        raise ConfigError(e.problems if isinstance(e, ConfigError) else str(e)) from None
    finally:
        if results is not None:
            with contextlib.suppress(Exception):
                results.close()
    name = str(infos[0].header.get("script", {}).get("name") or ref)
    start_ns = int(infos[0].header.get("start", {}).get("unix_ns", 0) or 0)
    from datetime import UTC, datetime

    started = datetime.fromtimestamp(start_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return from_summary(summary.data, label=Path(name).stem, exit_code=judgement.exit_code,
                        started_at=started)
