"""k6's `--out json` stream: one Metric line per metric, then Point lines (k6-compat.md §6).

Tools that post-process k6 NDJSON (jq scripts, importers) parse it with exact expectations:
key order, `1e+06`-style Go numbers, sorted tags, `submetrics: null`, a Metric line written
right before the metric's first Point. The writer buffers lines and the engine calls
`flush()` every 200 ms (as k6 does), so a killed run still leaves everything up to the last
flush on disk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO, Protocol

from loadgen.metrics.model import Metric
from loadgen.numfmt import go_float

_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
        "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def go_string(s: str, escape_html: bool = True) -> str:
    """A JSON string as Go writes it (HTML characters escaped, as easyjson and encoding/json)."""
    out = ['"']
    for ch in s:
        esc = _ESC.get(ch) or (_HTML.get(ch) if escape_html else None)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any, escape_html: bool = True) -> str:
    """Compact JSON with Go number/string formatting (dicts keep their order)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(value)
    if isinstance(value, str):
        return go_string(value, escape_html)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_string(str(k), escape_html)}:{go_json(v, escape_html)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(go_json(v, escape_html) for v in value) + "]"
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def rfc3339nano(t_ns: int) -> str:
    """Go time.RFC3339Nano in UTC: fractional seconds without trailing zeros, `Z` zone."""
    sec, frac = divmod(t_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def _tags_json(tags: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    items = tags.items() if isinstance(tags, Mapping) else tags
    return go_json(dict(sorted(items)))


class SubMetricLike(Protocol):
    """loadgen.metrics.model.SubMetric, or anything with its name/suffix/tags."""

    @property
    def name(self) -> str: ...

    @property
    def suffix(self) -> str: ...

    @property
    def tags(self) -> tuple[tuple[str, str], ...]: ...


def metric_line(
    name: str,
    mtype: str,
    contains: str,
    thresholds: Sequence[Any] = (),
    submetrics: Sequence[SubMetricLike] | None = None,
) -> str:
    """`{"type":"Metric","data":{...},"metric":name}`; thresholds are ThresholdSpec-like
    objects (with `to_json()`), plain strings, or the object form as a dict."""
    ths = [t.to_json() if hasattr(t, "to_json") else t for t in thresholds]
    subs = "null" if not submetrics else "[" + ",".join(
        f'{{"name":{go_string(s.name)},"suffix":{go_string(s.suffix)},'
        f'"tags":{_tags_json(s.tags)}}}' for s in submetrics) + "]"
    return (f'{{"type":"Metric","data":{{"name":{go_string(name)},"type":{go_string(mtype)},'
            f'"contains":{go_string(contains)},"thresholds":{go_json(ths, escape_html=False)},'
            f'"submetrics":{subs}}},"metric":{go_string(name)}}}')


def point_line(
    metric: str,
    t_ns: int,
    value: float,
    tags: Iterable[tuple[str, str]] | Mapping[str, str],
    metadata: Mapping[str, str] | None = None,
) -> str:
    """`{"metric":..,"type":"Point","data":{"time","value","tags"[,"metadata"]}}`."""
    meta = f',"metadata":{_tags_json(metadata)}' if metadata else ""
    return (f'{{"metric":{go_string(metric)},"type":"Point","data":{{"time":"{rfc3339nano(t_ns)}",'
            f'"value":{go_float(value)},"tags":{_tags_json(tags)}{meta}}}}}')


class NdjsonWriter:
    """Buffered k6 NDJSON writer over an open binary file (which it does not close).

    `thresholds` maps metric names to their own threshold specs (ThresholdSet.by_metric());
    sub-metric thresholds are not listed on Metric lines, as in k6.
    """

    def __init__(self, out: BinaryIO, thresholds: Mapping[str, Sequence[Any]] | None = None):
        self._out = out
        self._thresholds = thresholds or {}
        self._seen: set[str] = set()
        self._buf: list[str] = []

    def sample(
        self,
        metric: Metric,
        t_ns: int,
        value: float,
        tags: Iterable[tuple[str, str]] | Mapping[str, str],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Queue one Point (and the metric's Metric line the first time it is seen).

        `t_ns` is wall-clock time in nanoseconds since the Unix epoch. An unserved
        (dropped or interrupted) iteration's +inf latency is left out: JSON has no infinity
        and k6 never writes one (a dropped one still has its `dropped_iterations` point).
        """
        if value == math.inf:
            return
        if metric.name not in self._seen:
            self._seen.add(metric.name)
            self._buf.append(metric_line(
                metric.name, metric.type.value, metric.contains.value,
                self._thresholds.get(metric.name, ()),
                [s for s in metric.submetrics if not getattr(s, "internal", False)] or None))
        self._buf.append(point_line(metric.name, t_ns, value, tags, metadata))

    @property
    def pending(self) -> int:
        return len(self._buf)

    def flush(self) -> None:
        """Write every queued line and flush the file."""
        if self._buf:
            self._out.write(("\n".join(self._buf) + "\n").encode("utf-8"))
            self._buf.clear()
        self._out.flush()
