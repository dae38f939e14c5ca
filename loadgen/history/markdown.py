"""`--summary-markdown FILE|auto`: the run as a Markdown job summary (GitHub's
`$GITHUB_STEP_SUMMARY`): the verdict, failed thresholds, the per-endpoint table with the SLO
budgets beside the observed values, and the comparison with the previous run of the label.

Every cell is escaped (a `|` in an endpoint name would cut the table, `<`/`>` would be HTML).
"""

from __future__ import annotations

from loadgen.history.compare import Comparison, fmt_delta, fmt_value, is_key_row
from loadgen.history.record import RunRecord

ENDPOINT_COLUMNS = ("count", "rate", "error_rate", "p50", "p90", "p95", "p99", "max")
_SLO_STATS = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "max": "max",
              "error_rate": "error_rate"}


def cell(text: str) -> str:
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", " ").replace("\r", " "))


def table(head: list[str], rows: list[list[str]], text: set[int] | None = None) -> list[str]:
    """A GitHub table: the `text` columns (default: the first) left-aligned, numbers
    right-aligned."""
    text = {0} if text is None else text
    out = ["| " + " | ".join(cell(h) for h in head) + " |",
           "|" + "|".join(" --- " if i in text else " ---: " for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return out


def render(rec: RunRecord, cmp: Comparison | None = None) -> str:
    icon = "✅" if rec.exit_code == 0 else "❌"
    lines = [f"## {icon} loadgen {rec.verdict}: {cell(rec.label)}", "",
             f"exit code {rec.exit_code} · duration {rec.duration_s:.1f} s · started "
             f"{rec.started_at}" + (f" · commit `{rec.git_commit[:12]}`" if rec.git_commit
                                    else ""), ""]
    failed = rec.failed_thresholds()
    if failed:
        lines += ["### Failed thresholds", ""]
        lines += table(["metric", "threshold", "observed"], text={0, 1}, rows=[
            [t.metric, t.source, rec.observed_text(t)] for t in failed])
        lines.append("")
    endpoints = rec.endpoints()
    if endpoints:
        lines += ["### Endpoints", ""]
        head = ["endpoint", *ENDPOINT_COLUMNS, "SLO budget"]
        rows = []
        for name, stats in endpoints:
            rows.append([name, *(fmt_value(s, stats.get(s)) for s in ENDPOINT_COLUMNS),
                         _budget(rec.slo.get(name), stats)])
        lines += table(head, rows, {0, len(head) - 1})
        lines.append("")
    if cmp is not None:
        lines += [f"### Compared with the previous run ({cell(cmp.base.describe())})", ""]
        rows = [["✗" if r.broken else "", (f"endpoint {r.key[1]}" if r.key[0] == "endpoint"
                                           else r.key[1]), r.stat,
                 fmt_value(r.stat, r.base, r.time), fmt_value(r.stat, r.current, r.time),
                 fmt_delta(r)]
                for r in cmp.rows if r.broken or is_key_row(r)]
        lines += table(["", "name", "stat", "previous", "current", "change"], rows, {0, 1, 2})
        lines.append("")
        lines.append(f"{len(cmp.regressions)} regression(s) by the rules "
                     + ", ".join(f"`{r.source}`" for r in cmp.rules) + ".")
        lines.append("")
    return "\n".join(lines) + "\n"


def _budget(slo: object, stats: dict[str, float]) -> str:
    """`p95 ≤ 200 ✓ · p99 ≤ 400 ✗` from a `loadgen.slo` entry (ms; error_rate a fraction)."""
    if not isinstance(slo, dict):
        return ""
    parts = []
    for key, limit in slo.items():
        stat = _SLO_STATS.get(str(key))
        if stat is None or isinstance(limit, bool) or not isinstance(limit, int | float):
            continue
        v = stats.get(stat)
        mark = "?" if v is None else ("✓" if v <= limit else "✗")
        parts.append(f"{key} ≤ {limit:g}{'' if stat == 'error_rate' else ' ms'} {mark}")
    return " · ".join(parts)
