"""What the results side of a run is asked for on the command line (files, streams,
threshold files, summary options), gathered in one value so the pipeline has no flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class AfterRun(Protocol):
    """What acts once a run is judged (history, Markdown, webhook: loadgen/history), set by
    the command line; the pipeline only calls it."""

    def problems(self) -> list[str]: ...

    def scenario_file(self, name: str) -> None:
        """The run's scenario file when the command line did not name one (a merge reads it
        from the archives): the default history label."""

    def finish(self, data: Mapping[str, Any], entries: Mapping[str, Any], code: int) -> int: ...

    def report_comparison(self, data: Mapping[str, Any], entries: Mapping[str, Any],
                          code: int) -> dict[str, Any] | None:
        """For the HTML report: the deltas against the label's previous run, if any."""


@dataclass
class ResultsConfig:
    threshold_files: list[str] = field(default_factory=list)
    no_thresholds: bool = False
    summary_export: str | None = None
    summary_json: str | None = None
    trend_stats: tuple[str, ...] | None = None
    time_unit: str = ""
    no_summary: bool = False
    outputs: list[str] = field(default_factory=list)
    no_color: bool = False
    archive: str | None = None  # --archive FILE: interval snapshots (results/archive.py)
    #: --history, --summary-markdown, --webhook: what happens once the run is judged
    after_run: AfterRun | None = None
    junit: str | None = None  # --junit FILE.xml: thresholds, checks, verdicts as test cases
    summary_by_name: bool = False  # --summary-by-name: the per-endpoint table in the text
    slowest: int = 0  # --slowest N: keep and list the N slowest requests (0: off)
    report: str | None = None  # --report FILE.html: the single-file HTML report (report/)
    #: where the text summary goes (None: stdout); the Python API passes a buffer
    text_out: Any = None

    @classmethod
    def from_cli(cls, kw: dict[str, Any]) -> ResultsConfig:
        stats = kw.get("summary_trend_stats")
        trend = tuple(s.strip() for s in stats.split(",") if s.strip()) if stats else None
        return cls(threshold_files=list(kw.get("threshold_files") or ()),
                   no_thresholds=bool(kw.get("no_thresholds")),
                   summary_export=kw.get("summary_export"), summary_json=kw.get("summary_json"),
                   trend_stats=trend, time_unit=kw.get("summary_time_unit") or "",
                   no_summary=bool(kw.get("no_summary")), outputs=list(kw.get("outputs") or ()),
                   no_color=bool(kw.get("no_color")), archive=kw.get("archive"),
                   junit=kw.get("junit"), summary_by_name=bool(kw.get("summary_by_name")),
                   slowest=int(kw.get("slowest") or 0), report=kw.get("report"))
