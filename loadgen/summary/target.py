"""The TARGET section of the text summary: what the target said about itself.

Scraped series and `--monitor-pid` gauges describe the target, not the generator, so they
get a section of their own instead of being sorted among loadgen's metrics by name prefix
(a target's `ws_connections` is not loadgen's WEBSOCKET traffic). A scraped series is shown
per label set, largest last value first, at most `TEXT_TOP` of them and "and K more": one
line folding every label set into one gauge would show whichever label set came last.
Input is the handleSummary data alone (its `loadgen.scrape` entries), so a summary file
re-rendered later shows the same section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT_TOP = 5  # label sets shown per series name
LABELS_WIDTH = 120  # characters of one label set shown before it is cut with "…"
PROCESS_PREFIX = "target_"

Metric = Mapping[str, Any]
# a metric line (shown name, metric) or a plain note line
Row = tuple[str, Metric] | str


def _scrapes(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    scrape = data.get("loadgen", {}).get("scrape", [])
    return [s for s in scrape if isinstance(s, Mapping)] if isinstance(scrape, list) else []


def target_names(data: Mapping[str, Any]) -> set[str]:
    """Metric names that belong to the TARGET section (and to no other section)."""
    names = {n for n in data.get("metrics", {}) if n.startswith(PROCESS_PREFIX)}
    for s in _scrapes(data):
        names.update(s.get("series", {}))
    return names


def _labels(labels: Mapping[str, Any]) -> str:
    if not labels:
        return ""
    text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    if len(text) > LABELS_WIDTH:
        text = text[:LABELS_WIDTH - 1] + "…"
    return "{" + text + "}"


def target_rows(data: Mapping[str, Any]) -> list[Row]:
    """The section's rows: process gauges, then each scraped endpoint's series."""
    metrics: Mapping[str, Metric] = data.get("metrics", {})
    rows: list[Row] = [(n, metrics[n]) for n in sorted(metrics)
                       if n.startswith(PROCESS_PREFIX) and "{" not in n]
    for s in _scrapes(data):
        rows.append(f"{s.get('url', '?')}: {s.get('scrapes', 0)} scrapes, "
                    f"{s.get('failures', 0)} failed")
        for name, entry in sorted(s.get("series", {}).items()):
            top = list(entry.get("top", []))
            for one in top[:TEXT_TOP]:
                rows.append((name + _labels(one.get("labels", {})), {
                    "type": "gauge", "contains": "default",
                    "values": {k: one.get(k) for k in ("value", "min", "max")}}))
            more = int(entry.get("more", 0)) + max(0, len(top) - TEXT_TOP)
            if more:
                rows.append(f"  … and {more} more label sets of {name}")
    return rows
