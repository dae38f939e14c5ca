"""What the results add after the final judgement (the run's events and recovery verdicts,
from `Results.addons`) and its slowest requests, carried by an archive's end line and given
back when the archive is replayed (`loadgen merge`, `loadgen report`, `loadgen compare`).

They live only in the process that judged the run: without them in the archive, a report or a
merge built later lost the events timeline, the recovery verdicts and the slowest table.

The end line gains one optional key (older archives lack it and still read; older readers
ignore it):

    "results": {"sections": {"events": [...], "recovery": [...]},   (the addons' `loadgen.*`)
                "verdicts": [{"kind", "scenario", "ok", "headline", "figures", "details"}],
                "warnings": [str], "text": [str], "failed": bool,   (an addon failed the run)
                "slowest_requests": [{...}]}

It is generic on purpose: whatever an addon adds to the results is kept, so this module
knows nothing of events.
"""

from __future__ import annotations

from typing import Any

from loadgen.errors import ExitCode
from loadgen.testtypes.verdict import Verdict

MAX_ROWS = 10_000  # rows of one list; the archive's line cap bounds the rest


class AddonMark:
    """What the results held before the addons' finish, to tell what they added."""

    def __init__(self, results: Any, judgement: Any) -> None:
        self.sections = set(results.sections)
        self.verdicts = len(judgement.verdicts)
        self.warnings = len(results.more_warnings)
        self.text = len(results.more_text)
        self.code = judgement.exit_code

    def trailer(self, results: Any, judgement: Any) -> dict[str, Any]:
        """The end line's `results` key (empty: nothing to carry)."""
        out: dict[str, Any] = {}
        sections = {k: v for k, v in results.sections.items() if k not in self.sections}
        if sections:
            out["sections"] = sections
        if verdicts := judgement.verdicts[self.verdicts:]:
            out["verdicts"] = [{"scenario": v.scenario, **v.to_json()} for v in verdicts]
        if warnings := results.more_warnings[self.warnings:]:
            out["warnings"] = list(warnings)
        if text := results.more_text[self.text:]:
            out["text"] = list(text)
        if out:
            out["failed"] = self.code == ExitCode.OK and judgement.exit_code != ExitCode.OK
        if results.slowest is not None and (rows := results.slowest.rows()):
            out["slowest_requests"] = rows
        return out


def trailer_problem(trailer: Any) -> str | None:
    """What is wrong with an end line's `results` (None: nothing, or absent)."""
    if trailer is None:
        return None
    if not isinstance(trailer, dict):
        return "results must be an object"
    if not isinstance(trailer.get("sections", {}), dict):
        return "results.sections must be an object"
    for key, item in (("verdicts", dict), ("warnings", str), ("text", str),
                      ("slowest_requests", dict)):
        rows = trailer.get(key, [])
        if not isinstance(rows, list) or len(rows) > MAX_ROWS or not all(
                isinstance(r, item) for r in rows):
            return f"results.{key} must be a list of at most {MAX_ROWS} {item.__name__}s"
    for v in trailer.get("verdicts", ()):
        if not isinstance(v.get("scenario"), str) or not isinstance(v.get("headline"), str) \
                or v.get("ok") not in (True, False, None):
            return "results.verdicts: each needs scenario, ok and headline"
    return None


class ArchivedAddons:
    """A replay's addon: gives the judged merge back what the runs' addons added (several
    archives: lists joined, in the archives' order). A verdict that failed, or an addon that
    failed its run (a required event), fails the merge as it failed the run."""

    def __init__(self, trailers: list[dict[str, Any]]) -> None:
        self.trailers = trailers

    def finish(self, results: Any, judgement: Any) -> None:
        failed = False
        for t in self.trailers:
            for key, value in (t.get("sections") or {}).items():
                have = results.sections.get(key)
                if isinstance(have, list) and isinstance(value, list):
                    have.extend(value)
                elif isinstance(have, dict) and isinstance(value, dict):
                    have.update(value)
                else:
                    results.sections[key] = value
            for v in t.get("verdicts", ()):
                judgement.verdicts.append(Verdict(
                    str(v.get("kind", "")), v["scenario"], v["ok"], v["headline"],
                    dict(v.get("figures") or {}), [str(d) for d in v.get("details") or ()]))
                failed = failed or v["ok"] is False
            results.more_warnings.extend(t.get("warnings", ()))
            results.more_text.extend(t.get("text", ()))
            failed = failed or t.get("failed") is True
        if failed and judgement.exit_code == ExitCode.OK:
            judgement.exit_code = ExitCode.THRESHOLDS_FAILED


def slowest_rows(trailers: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each archive's slowest requests, slowest first (the caller keeps the N slowest)."""
    return [list(t.get("slowest_requests", ())) for t in trailers]
