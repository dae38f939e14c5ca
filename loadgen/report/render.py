"""The page itself: one HTML string, every value from the run escaped here (`esc`).

Names, URLs, error strings and tags come from the scenario or the target, so each one goes
through `html.escape` before it reaches markup, and the chart data travels as JSON inside a
`<script type="application/json">` block with `<`, `>` and `&` written as `\\u003c` ...
(a name containing `</script>` cannot end the block). Table cells that hold numbers carry
the exact value in `data-v`, so a reader (or a test) can compare them with the summary JSON.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from loadgen.report.extract import ENDPOINT_COLS

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2937;
background:#f8fafc}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#e5e7eb;padding-bottom:4px}
.verdict{padding:14px 18px;border-radius:8px;font-size:18px;font-weight:600;margin:12px 0}
.pass{background:#dcfce7;color:#166534}.fail{background:#fee2e2;color:#991b1b}
.undecided{color:#92400e}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f1f5f9}.bad{color:#b91c1c;font-weight:600}.ok{color:#15803d}
ul.warn li{color:#92400e}.chart{background:#fff;margin:10px 0;border:1px solid #e5e7eb}
.meta{color:#6b7280}code{font-size:12px;word-break:break-all}pre{white-space:pre-wrap;
margin:0;font-size:12px}
"""


def esc(v: object) -> str:
    return html.escape(str(v), quote=True)


def num(v: float | None, digits: int = 2) -> str:
    if v is None or math.isnan(v):
        return "—"
    if math.isinf(v):
        return "unserved"  # an open-model latency whose rank fell among unserved arrivals
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.3g}"
    return f"{v:,.{digits}f}"


def td_num(v: Any, digits: int = 2, cls: str = "") -> str:
    fv = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
    dv = "" if fv is None or not math.isfinite(fv) else f' data-v="{esc(repr(fv))}"'
    klass = f"n {cls}".strip()
    return f'<td class="{klass}"{dv}>{esc(num(fv, digits))}</td>'


MAX_ROWS = 1000  # per table: a scenario that names checks or requests per user stays readable
MAX_TEXT = 2000  # characters of one cell (an event's output, an error string)


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(text):,} characters)"


def table(tid: str, head: list[str], rows: list[str]) -> str:
    if not rows:
        return ""
    if len(rows) > MAX_ROWS:
        more = len(rows) - MAX_ROWS
        rows = [*rows[:MAX_ROWS], f'<tr><td colspan="{len(head)}" class="meta">… {more:,} more '
                "rows not shown</td></tr>"]
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    return (f'<table id="{tid}"><thead><tr>{th}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def mark(ok: object) -> str:
    if ok is None:
        return '<td class="undecided">? undecided</td>'
    return '<td class="ok">✓ pass</td>' if ok else '<td class="bad">✗ fail</td>'


def verdict_block(m: dict[str, Any]) -> str:
    v = m["verdict"]
    word = "PASSED" if v["passed"] else "FAILED"
    bits = [f"exit code {v['exit_code']}",
            f"{v['thresholds'] - v['failed_thresholds']}/{v['thresholds']} thresholds passed"
            if v["thresholds"] else "no thresholds"]
    if m["verdicts"]:
        bits.append(f"{v['failed_verdicts']} test-type verdict(s) failed")
    if v["reason"]:
        bits.append(v["reason"])
    cls = "pass" if v["passed"] else "fail"
    return (f'<div id="verdict" class="verdict {cls}" data-exit-code="{v["exit_code"]}">'
            f'{word} <span class="meta">— {esc("; ".join(bits))}</span></div>')


def thresholds_html(m: dict[str, Any]) -> str:
    rows = [f"<tr><td><code>{esc(r['metric'])}</code></td><td><code>{esc(r['expr'])}</code>"
            f"</td>{mark(r['ok'])}{td_num(r['observed'], 3)}</tr>" for r in m["thresholds"]]
    return table("thresholds", ["metric", "threshold", "result", "observed"], rows)


def checks_html(m: dict[str, Any]) -> str:
    rows = []
    for c in m["checks"]:
        total = c["passes"] + c["fails"]
        rate = c["passes"] / total * 100 if total else None
        rows.append(f"<tr><td>{esc(c['name'])}</td>{mark(c['ok'])}{td_num(c['passes'], 0)}"
                    f"{td_num(c['fails'], 0)}{td_num(rate, 2)}</tr>")
    return table("checks", ["check", "result", "passes", "fails", "pass %"], rows)


def verdicts_html(m: dict[str, Any]) -> str:
    rows = [f"<tr><td>{esc(v['scenario'])}</td><td>{esc(v['kind'])}</td>{mark(v['ok'])}"
            f"<td>{esc(v['headline'])}<pre>{esc(chr(10).join(v['details']))}</pre></td></tr>"
            for v in m["verdicts"]]
    return table("verdicts", ["scenario", "test type", "verdict", "findings"], rows)


def warnings_html(m: dict[str, Any]) -> str:
    if not m["warnings"]:
        return ""
    return ('<ul id="warnings" class="warn">'
            + "".join(f"<li>{esc(clip(w))}</li>" for w in m["warnings"][:MAX_ROWS]) + "</ul>")


def endpoints_html(m: dict[str, Any]) -> str:
    """One row per request name; beside a column, its SLO budget when any name has one (the
    value red when over it); budgets on stats without a column are listed last."""
    slo = m["slo"]
    # (column title, the row's key, the factor from the row's unit to the column's)
    cols: list[tuple[str, str, float]] = [("error %", "error_rate", 100.0)]
    cols += [(f"{c} ms", c, 1.0) for c in ENDPOINT_COLS]
    budgeted = {k for b in slo.values() for k in b}
    shown = {"error_rate", *ENDPOINT_COLS}
    others = any(set(b) - shown for b in slo.values())
    rows = []
    for r in m["endpoints"]:
        budget = slo.get(r["name"], {})
        cells = [f"<td>{esc(r['name'])}</td>", td_num(r["count"], 0), td_num(r["rate"], 2)]
        for _, key, unit in cols:
            v, b = r.get(key), budget.get(key)
            over = v is not None and b is not None and v > b
            cells.append(td_num(None if v is None else v * unit, 2, "bad" if over else ""))
            if key in budgeted:
                cells.append(td_num(b * unit, 2 if key == "error_rate" else 0)
                             if b is not None else '<td class="n">—</td>')
        if others:
            rest = ", ".join(f"{k} {v:g}" for k, v in budget.items() if k not in shown)
            cells.append(f"<td>{esc(rest)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = ["name", "count", "req/s"]
    for title, key, _ in cols:
        head += [title, f"{title.split()[0]} SLO"] if key in budgeted else [title]
    if others:
        head.append("other SLOs")
    src = ("" if m["endpoints_source"] == "summary" else
           '<p class="meta">Computed from the run\'s intervals.</p>')
    return table("endpoints", head, rows) + src if rows else ""


def open_model_html(m: dict[str, Any]) -> str:
    rows = [f"<tr><td>{esc(r['scenario'])}</td>" + "".join(td_num(r[k], 0 if k in (
        "dropped", "unserved") else 3) for k in ("dropped", "unserved", "lag_p95", "lag_p99",
                                                  "latency_p50", "latency_p95", "latency_p99"))
            + "</tr>" for r in m["open_model"]]
    return table("open_model", ["scenario", "dropped", "unserved", "lag p95 ms", "lag p99 ms",
                                "latency p50 ms", "latency p95 ms", "latency p99 ms"], rows)


def records_html(tid: str, recs: list[dict[str, Any]] | None, cols: list[str]) -> str:
    if not recs:
        return ""
    rows = []
    for r in recs:
        cells = []
        for c in cols:
            v = r.get(c)
            if isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(td_num(v, 3 if c.endswith(("_s", "_ms")) else 0))
            elif isinstance(v, bool) or v is None:
                cells.append(f"<td>{esc('—' if v is None else ('yes' if v else 'no'))}</td>")
            else:
                cells.append(f"<td><code>{esc(clip(str(v)))}</code></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return table(tid, cols, rows)


def config_html(m: dict[str, Any]) -> str:
    run = m["run"]
    out = []
    scen = run.get("scenarios") or []
    if scen:
        rows = [f"<tr><td>{esc(s.get('name', ''))}</td><td>{esc(s.get('executor', ''))}</td>"
                f"<td>{esc(s.get('describe') or s.get('test_type') or '')}</td></tr>"
                for s in scen if isinstance(s, dict)]
        out.append(table("scenarios", ["scenario", "executor", "schedule"], rows))
    opts = run.get("options") or {}
    if opts:
        rows = [f"<tr><td><code>{esc(k)}</code></td><td><code>"
                f"{esc(json.dumps(v, default=str))}</code></td></tr>" for k, v in opts.items()]
        out.append(table("options", ["option", "value"], rows))
    return "".join(out)


def finite(obj: Any) -> Any:
    """NaN and infinities (a gauge gone wrong) as null: JSON has no such numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def script_json(obj: Any) -> str:
    """JSON safe inside a <script> block (no `<`, `>`, `&`, no line separators)."""
    s = json.dumps(finite(obj), separators=(",", ":"), default=str)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        s = s.replace(a, b)
    return s


#: unpacks the chart library (gzip, base64) with the browser's DecompressionStream, runs it
#: in the global scope, then draws every figure; `data-charts` on <body> says when it is done
#: (the number of charts, or "error" with the reason shown above the charts)
BOOT = """
(async function(){
  var body = document.body;
  try {
    var bin = atob(document.getElementById('chart-library').textContent);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var unpacked = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    (0, eval)(await new Response(unpacked).text());
    var d = JSON.parse(document.getElementById('report-data').textContent);
    for (var f of d.figures) {
      await Plotly.newPlot(document.getElementById('chart-' + f.id), f.data, f.layout,
                           {displaylogo: false, responsive: true});
    }
    body.setAttribute('data-charts', String(d.figures.length));
  } catch (e) {
    body.setAttribute('data-charts', 'error');
    var p = document.createElement('p');
    p.className = 'bad';
    p.textContent = 'The charts could not be drawn in this browser: ' + e;
    var at = document.getElementById('s-charts');
    if (at) at.insertBefore(p, at.children[1] || null);
    throw e;
  }
})();
"""


def page(m: dict[str, Any], figures: list[dict[str, Any]], library_b64gz: str,
         title: str) -> str:
    def section(title: str, body: str, sid: str) -> str:
        return f'<section id="s-{sid}"><h2>{esc(title)}</h2>{body}</section>' if body else ""

    charts = "".join(f'<div class="chart" id="chart-{esc(f["id"])}"></div>' for f in figures)
    run = m["run"]
    meta = [f"duration {num(m['duration_s'], 1)} s"]
    if run.get("generated"):
        meta.append(f"generated {run['generated']}")
    if run.get("script"):
        meta.append(f"script {run['script']}")
    if m["fleet"] and m["fleet"].get("workers"):
        meta.append(f"{m['fleet']['workers']} workers")
    if m["late"]:
        meta.append(f"{m['late']} interval(s) arrived after their second was drawn: counted "
                    "in the tables, missing from the charts")
    body = "".join([
        f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(' · '.join(meta))}</p>",
        verdict_block(m),
        section("Thresholds", thresholds_html(m), "thresholds"),
        section("Test-type verdicts", verdicts_html(m), "verdicts"),
        section("Warnings", warnings_html(m), "warnings"),
        section("Checks", checks_html(m), "checks"),
        section("Recovery", records_html("recovery", m["recovery"], [
            "event", "recovery_s", "peak_p95_ms", "peak_error_rate", "kept_answering",
            "passed"]), "recovery"),
        section("Requests by name", endpoints_html(m), "endpoints"),
        section("Open model: latency from the intended start", open_model_html(m),
                "open_model"),
        section("Over time", charts, "charts"),
        section("Slowest requests", records_html("slowest", m["slowest"], [
            "name", "method", "url", "status", "duration_ms", "started", "trace_id",
            "scenario"]), "slowest"),
        section("Events", records_html("events", m["events"], [
            "at_s", "name", "kind", "ok", "status", "duration_s", "required", "output_tail"]),
            "events"),
        section("Configuration", config_html(m), "config"),
    ])
    data = script_json({"figures": figures})
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>{body}"
            f"</main><script type=\"application/json\" id=\"report-data\">{data}</script>"
            f"<script type=\"application/gzip+base64\" id=\"chart-library\">{library_b64gz}"
            f"</script><script>{BOOT}</script></body></html>")
