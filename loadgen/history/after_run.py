"""What happens once a run is judged, in this order: the Markdown job summary (a result file:
one that cannot be written fails an otherwise clean run, as `--summary-json` does), the
history row, the webhook. The last two are side channels: a locked history or an unreachable
chat server is a warning, never a lost result nor a different exit code.

Runs, `--workers` runs and `loadgen merge` all end in the same results pipeline, which calls
`finish`; fleet workers never do (they have no summary of their own).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loadgen.errors import ExitCode
from loadgen.history import markdown, webhook
from loadgen.history.compare import DEFAULT_RULES, compare, parse_rules
from loadgen.history.record import (
    RunRecord,
    default_label,
    exact_metrics,
    from_summary,
    git_commit,
    safe_options,
)
from loadgen.history.store import HistoryError, HistoryStore
from loadgen.net.redact import redact

log = logging.getLogger("loadgen")
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@dataclass
class AfterRun:
    history: str | None = None
    label: str | None = None
    markdown: str | None = None  # a path, or "auto": $GITHUB_STEP_SUMMARY
    webhook: str | None = None
    webhook_on: str = "fail"
    file: str | None = None  # the scenario file (the default label)
    options: dict[str, Any] = field(default_factory=dict)
    #: the summary files the webhook message points at
    report_paths: list[str] = field(default_factory=list)
    record: RunRecord | None = None  # after finish: what was recorded

    @classmethod
    def from_cli(cls, kw: Mapping[str, Any]) -> AfterRun | None:
        """None when no flag asks for anything (a plain run pays nothing)."""
        if not any(kw.get(k) for k in ("history", "summary_markdown", "webhook")):
            return None
        paths = [p for p in (kw.get("summary_json"), kw.get("summary_export")) if p]
        return cls(history=kw.get("history"), label=kw.get("history_label"),
                   markdown=kw.get("summary_markdown"), webhook=kw.get("webhook"),
                   webhook_on=kw.get("webhook_on") or "fail", file=kw.get("file"),
                   options=safe_options(kw), report_paths=paths)

    def scenario_file(self, name: str) -> None:
        if not self.file:
            self.file = name

    def problems(self) -> list[str]:
        """Checked before the run starts (exit 104), as the other result paths are."""
        from loadgen.results.report import writable_problem

        out = []
        if self.history and Path(self.history).is_dir():
            out.append(f"--history {self.history}: is a directory")
        elif self.history:
            parent = Path(self.history).parent
            if not parent.is_dir():
                out.append(f"--history {self.history}: the directory {str(parent)!r} does "
                           "not exist")
        if self.markdown and self.markdown != "auto":
            out += [p for p in [writable_problem("--summary-markdown", self.markdown)] if p]
        if self.webhook:
            out += [p for p in [webhook.url_problem(self.webhook)] if p]
        if self.webhook_on not in ("fail", "always"):
            out.append(f"--webhook-on {self.webhook_on!r}: fail or always")
        if self.label is not None and not self.label.strip():
            out.append("--history-label is empty")
        return out

    def finish(self, data: Mapping[str, Any], entries: Mapping[str, Any], code: int) -> int:
        """Markdown, history, webhook; returns the exit code (110 only for a Markdown file
        that could not be written on an otherwise clean run). Never raises: the run's
        results are already written, and a surprise here must not turn into a traceback."""
        try:
            return self._finish(data, entries, code)
        except Exception as e:  # noqa: BLE001 - reported, the exit code stays
            log.error("after the run (--history/--summary-markdown/--webhook): %s: %s",
                      type(e).__name__, redact(str(e)))
            return ExitCode.TEST_FAILED if code == ExitCode.OK and self.markdown else code

    def _finish(self, data: Mapping[str, Any], entries: Mapping[str, Any], code: int) -> int:
        state = data.get("state") if isinstance(data.get("state"), Mapping) else {}
        assert isinstance(state, Mapping)
        elapsed = float(state.get("testRunDurationMs", 0) or 0) / 1000
        exact, observed = exact_metrics(entries, elapsed)
        label = self.label or default_label(self.file)
        started = datetime.now(UTC) - timedelta(seconds=elapsed)
        rec = self.record = from_summary(
            data, label=label, exit_code=code, options=self.options, commit=git_commit(),
            exact=exact, observed=observed,
            started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"))
        previous = self._previous(label)
        if self.markdown:
            code = self._markdown(rec, previous, code)
        rec.exit_code = code
        if self.history:
            self._store(rec)
        if self.webhook and (self.webhook_on == "always" or code != ExitCode.OK):
            paths = [*self.report_paths, *([self.markdown] if self.markdown and
                                           self.markdown != "auto" else [])]
            problem = webhook.post(self.webhook, webhook.message(rec, paths))
            if problem:
                log.warning("webhook not sent: %s (the run's results and exit code are "
                            "unaffected)", problem)
        return code

    def _previous(self, label: str) -> RunRecord | None:
        if not (self.history and self.markdown) or not Path(self.history).is_file():
            return None
        try:
            with HistoryStore(self.history) as store:
                return store.previous(label)
        except HistoryError:
            return None  # _store says what is wrong with it

    def _store(self, rec: RunRecord) -> None:
        assert self.history is not None
        try:
            with HistoryStore(self.history) as store:
                run_id = store.add(rec)
        except HistoryError as e:
            log.warning("%s: this run was not added to the history (its results and exit "
                        "code are unaffected)", e)
            return
        log.info("history %s: run #%d recorded (label %r)", self.history, run_id, rec.label)

    def _markdown(self, rec: RunRecord, previous: RunRecord | None, code: int) -> int:
        assert self.markdown is not None
        cmp = compare(previous, rec, parse_rules(list(DEFAULT_RULES))) if previous else None
        text = markdown.render(rec, cmp)
        path, append = self.markdown, False
        if path == "auto":
            target = os.environ.get(STEP_SUMMARY)
            if not target:
                log.info("--summary-markdown auto: %s is not set (not a GitHub Actions step); "
                         "no Markdown summary written", STEP_SUMMARY)
                return code
            path, append = target, True  # GitHub collects what each step appends
        try:
            with open(path, "a" if append else "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            log.error("could not write --summary-markdown %s: %s", path, e.strerror or e)
            return ExitCode.TEST_FAILED if code == ExitCode.OK else code
        return code
