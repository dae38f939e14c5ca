"""The report's charts as plotly.js figure descriptions (plain dicts: data + layout).

No plotly Python objects are built (their validation costs seconds on long runs); the page
hands these dicts to `Plotly.newPlot`. Plotly draws trace names and labels as SVG text and
reads a few HTML tags and entities in them, so every name from the scenario or the target
goes through `label()` (entities escaped: shown as typed, never as markup).
"""

from __future__ import annotations

import html
from typing import Any

from loadgen.report.collect import PCTS, Series

ALL = "all requests"


def label(s: object) -> str:
    return html.escape(str(s), quote=True)


def _layout(title: str, x: str, y: str, **more: Any) -> dict[str, Any]:
    lay: dict[str, Any] = {
        "title": {"text": label(title)}, "height": 340,
        "margin": {"l": 60, "r": 60, "t": 40, "b": 45},
        "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.25}, "hovermode": "x unified",
    }
    lay.update(more)
    return lay


def _rate(counts: list[float | None], widths: list[float | None]) -> list[float | None]:
    return [None if c is None else c / (w or 1.0) for c, w in zip(counts, widths, strict=True)]


def _line(x: list[float], y: list[Any], name: str, **more: Any) -> dict[str, Any]:
    """A line; with markers while short (a line of one or two points is hard to see)."""
    mode = "lines+markers" if len(x) <= 60 else "lines"
    return {"type": "scatter", "mode": mode, "x": x, "y": y, "name": label(name),
            "connectgaps": False, **more}


def _has(col: list[Any] | None) -> bool:
    return bool(col) and any(v is not None and v != 0 for v in col or ())


def _event_shapes(events: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Vertical markers for the events timeline on every chart over time."""
    if not events:
        return {}
    shapes, notes = [], []
    for e in events[:100]:
        at = e.get("at_s")
        if not isinstance(at, int | float) or isinstance(at, bool):
            continue
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at,
                       "y0": 0, "y1": 1, "line": {"dash": "dot", "width": 1,
                                                  "color": "#b45309" if e.get("ok", True)
                                                  else "#b91c1c"}})
        notes.append({"x": at, "y": 1, "xref": "x", "yref": "paper", "showarrow": False,
                      "text": label(e.get("name", "")), "font": {"size": 10},
                      "textangle": -90, "xanchor": "right", "yanchor": "top"})
    return {"shapes": shapes, "annotations": notes}


def figures(s: Series, events: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each figure: {"id", "title", "data", "layout"}; figures without data are left out."""
    x, c, w = s.t, s.cols, s.cols.get("width", [])
    xt = "seconds since the start" + (f" (a point: {s.width_s:g} s, the worst second "
                                      "for latencies)" if s.width_s > 1 else "")
    marks = _event_shapes(events)
    figs: list[dict[str, Any]] = []

    def add(fid: str, title: str, data: list[dict[str, Any]], layout: dict[str, Any],
            over_time: bool = True) -> None:
        if any(_has(d.get("y")) for d in data):
            if over_time:
                layout.update(marks)
            figs.append({"id": fid, "title": title, "data": data, "layout": layout})

    # requests and errors per second
    add("throughput", "Requests and errors per second", [
        _line(x, _rate(c.get("reqs", []), w), "requests/s"),
        _line(x, _rate(c.get("failed", []), w), "failed requests/s", line={"color": "#dc2626"}),
        *(_line(x, _rate(s.by_name[n].get(k, []), w), f"{n} {what}", visible="legendonly")
          for n in s.names for k, what in (("reqs", "req/s"), ("failed", "failed/s"))),
    ], _layout("Requests and errors per second (a name: click it in the legend)", xt,
               "per second"))

    # latency percentiles per interval, one set of traces per request name (a menu picks)
    choices = [(ALL, c)] + [(n, s.by_name[n]) for n in s.names]
    data, buttons = [], []
    per = len(PCTS) + 1
    for i, (name, cols) in enumerate(choices):
        for p in [*(f"p{p:g}" for p in PCTS), "max"]:
            data.append(_line(x, cols.get(p, []), f"{p} {name}" if i else p, visible=i == 0,
                              legendgroup=label(name)))
    for i, (name, _) in enumerate(choices):
        vis = [j // per == i for j in range(len(data))]
        buttons.append({"label": label(name), "method": "restyle", "args": [{"visible": vis}]})
    add("latency", "Latency per interval (ms)", data, _layout(
        "http_req_duration per interval", xt, "ms",
        updatemenus=[{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.18,
                      "yanchor": "top", "showactive": True}] if len(choices) > 1 else []))

    add("vus", "Virtual users", [
        _line(x, c.get("vus", []), "VUs busy (most in the interval)", line={"shape": "hv"}),
        _line(x, c.get("vus_max", []), "VUs allocated (vus_max)",
              line={"shape": "hv", "dash": "dot"}),
    ], _layout("Virtual users", xt, "VUs"))

    # the open model: schedule lag and latency from the intended start
    add("open_model", "Open model: lag and latency from the intended start", [
        _line(x, c.get("iteration_lag_p95", []), "iteration_lag p95"),
        _line(x, c.get("iteration_lag_p99", []), "iteration_lag p99"),
        _line(x, c.get("iteration_latency_p50", []), "iteration_latency p50"),
        _line(x, c.get("iteration_latency_p95", []), "iteration_latency p95"),
        _line(x, c.get("iteration_latency_p99", []), "iteration_latency p99"),
        _line(x, _rate(c.get("dropped", []), w), "dropped iterations/s", yaxis="y2",
              line={"color": "#dc2626", "dash": "dot"}),
    ], _layout("Open model: schedule lag and latency from the intended start", xt, "ms",
               yaxis2={"title": {"text": "dropped/s"}, "overlaying": "y", "side": "right",
                       "rangemode": "tozero"}))

    add("generator", "Generator health", [
        _line(x, c.get("cpu", []), "generator CPU %"),
        _line(x, c.get("loadgen_loop_lag_max", []), "event-loop lag max (ms)", yaxis="y2"),
    ], _layout("Generator health: CPU and event-loop lag", xt, "CPU %",
               yaxis2={"title": {"text": "loop lag ms"}, "overlaying": "y", "side": "right",
                       "rangemode": "tozero"}))

    # latency against throughput (one marker per interval)
    rps = _rate(c.get("reqs", []), w)
    pts = [i for i, r in enumerate(rps) if r]
    add("latency_vs_rate", "Latency against throughput", [
        {"type": "scatter", "mode": "markers", "name": p, "marker": {"size": 5},
         "x": [rps[i] for i in pts], "y": [c.get(p, [None] * len(rps))[i] for i in pts]}
        for p in ("p50", "p95", "p99")
    ], _layout("Latency against throughput (one point per interval)", "requests/s", "ms",
               hovermode="closest"), over_time=False)

    # the latency distribution: HDR percentile spectrum
    ticks = [1, 2, 10, 100, 1000, 10_000, 100_000, 1_000_000]
    text = ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
    add("spectrum", "Latency distribution (percentile spectrum)", [
        _line([1 / (1 - p / 100) for p, _ in pts_], [v for _, v in pts_], name,
              visible=True if name == ALL else "legendonly",
              customdata=[p for p, _ in pts_],
              hovertemplate="%{customdata:.4f}%: %{y:.3f} ms")
        for name, pts_ in s.spectrum.items() if pts_
    ], _layout("http_req_duration percentile spectrum", "percentile", "ms",
               xaxis={"type": "log", "tickvals": ticks, "ticktext": text,
                      "title": {"text": "percentile"}}, hovermode="closest"), over_time=False)
    return figs
