"""The HTML report's "compared with the previous run" block: the deltas `loadgen compare`
prints (key rows and any row a rule broke), as plain data the report renders (the report
never imports the history), each row with its direction-aware judgement ("worse", "better",
"same", "changed", "missing") for the same red/green colouring."""

from __future__ import annotations

from typing import Any

from loadgen.history.compare import Comparison, fmt_delta, fmt_value, is_key_row


def comparison_block(cmp: Comparison) -> dict[str, Any]:
    rows = [{"broken": bool(r.broken),
             "name": f"endpoint {r.key[1]}" if r.key[0] == "endpoint" else r.key[1],
             "stat": r.stat, "base": fmt_value(r.stat, r.base, r.time),
             "current": fmt_value(r.stat, r.current, r.time), "delta": fmt_delta(r),
             "judgement": r.judgement}
            for r in cmp.rows if r.broken or is_key_row(r)]
    n = len(cmp.regressions)
    return {"base": f"{cmp.base.describe()} ({cmp.base.verdict})", "rows": rows,
            "regressions": n, "rules": [r.source for r in cmp.rules],
            "notes": list(cmp.notes)}
