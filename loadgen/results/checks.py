"""Checks and groups of a run, counted as the store ingests them (one tally per tag set and
batch, not a walk over every record), into the tree the summaries print."""

from __future__ import annotations

from loadgen.metrics.ingest import Store, Tally
from loadgen.metrics.registry import Registry
from loadgen.summary.groups import GroupTree


class CheckCounter:
    """Feeds `tree` from the `checks` and `group_duration` samples, in first-seen order."""

    def __init__(self, registry: Registry, store: Store) -> None:
        self.tree = GroupTree()
        self._checks = registry["checks"]
        self._groups = registry["group_duration"]
        store.add_tally_hook([self._checks, self._groups], self._on_tallies)

    def _on_tallies(self, tallies: list[Tally]) -> None:
        for _, metric, tags, nonzero, total in tallies:
            d = dict(tags)
            if metric is self._checks:
                self.tree.add_check(d.get("group", ""), d.get("check", ""), nonzero,
                                    total - nonzero)
            else:
                self.tree.group(d.get("group", ""))
