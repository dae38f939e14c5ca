"""`loadgen history PATH`: the runs a history file holds, newest last."""

from __future__ import annotations

import json
import math

from loadgen.history.compare import fmt_value
from loadgen.history.store import HistoryStore


def list_runs(path: str, label: str | None, last: int | None, as_json: bool) -> str:
    with HistoryStore(path, create=False) as store:
        runs = store.runs(label, last)
    if as_json:
        return json.dumps([{
            "id": r.id, "started_at": r.started_at, "label": r.label,
            "git_commit": r.git_commit, "exit_code": r.exit_code, "verdict": r.verdict,
            "duration_s": r.duration_s, "options": r.options, "generator": r.generator,
            "thresholds": [{"metric": t.metric, "source": t.source, "ok": t.ok,
                            "observed": t.observed if t.observed is None or math.isfinite(
                                t.observed) else "inf"} for t in r.thresholds],
            "stats": [{"scope": s, "name": n, **{k: v if math.isfinite(v) else "inf"
                                                 for k, v in st.items()}}
                      for (s, n), st in r.stats.items()]} for r in runs], indent=2) + "\n"
    head = ("id", "started", "label", "commit", "verdict", "duration", "p95", "req/s", "errors")
    cells = [head]
    for r in runs:
        d = r.stats.get(("metric", "http_req_duration"), {})
        q = r.stats.get(("metric", "http_reqs"), {})
        f = r.stats.get(("metric", "http_req_failed"), {})
        cells.append((str(r.id), r.started_at, r.label, (r.git_commit or "-")[:10],
                      f"{r.verdict} ({r.exit_code})", f"{r.duration_s:.1f}s",
                      fmt_value("p95", d.get("p95")), fmt_value("rate", q.get("rate")),
                      fmt_value("value", f.get("value"))))
    if len(cells) == 1:
        return f"history {path}: no runs" + (f" with label {label!r}" if label else "") + "\n"
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(head))).rstrip()
                     for c in cells) + "\n"
