"""Gauges measured by several instances of one test (archives being merged, a fleet's
workers): a gauge's "last value" means nothing across instances, so each kind is combined
by what it measures.

- `vus` / `vus_max` count one instance's VUs: the test's are the sum over instances, per
  interval (as a `--workers` coordinator samples its workers' counts), each instance at
  its latest value (one that has ended keeps its last);
- `loadgen_cpu` is one generator process's CPU: it stays per instance (an `instance` tag;
  a fleet coordinator's own is `instance: coordinator`), and the summary shows the busiest
  instance's (the highest peak; workers before a coordinator), not whichever reported
  last; every instance's value is in the JSON files' `loadgen.instances.loadgen_cpu`;
- every other gauge keeps the plain merge: the last value in time order, min and max.
"""

from __future__ import annotations

from typing import Any

from loadgen.metrics.model import TagSet, tagset
from loadgen.metrics.registry import Registry
from loadgen.metrics.sinks import GaugeSink, Sink, merge_sink
from loadgen.metrics.timeseries import GaugeAgg, TimeSeries
from loadgen.results.interval import Interval

SUMMED = frozenset({"vus", "vus_max"})
CPU = "loadgen_cpu"
INSTANCE_TAG = "instance"
COORDINATOR = "coordinator"  # the instance tag of a `--workers` coordinator's own gauges
MAX_INSTANCES = 10_000  # labels kept for the per-instance CPU (a bound, not a real limit)


def tag_instance(iv: Interval, instance: str) -> None:
    """Put `instance` on this interval's generator CPU gauge (a worker's, at the fleet's
    coordinator), so its archive and anything merged from it keep who measured it."""
    for key in [k for k in iv.metrics if k[0] == CPU]:
        name, tags = key
        iv.metrics[(name, tagset({**dict(tags), INSTANCE_TAG: instance}))] = iv.metrics.pop(key)


class InstanceCpu:
    """Each instance's `loadgen_cpu`, and the busiest one for the summary."""

    def __init__(self) -> None:
        self.by_instance: dict[str, GaugeSink] = {}
        self.coordinators: set[str] = set()  # a fleet coordinator's own: not a worker

    def take(self, iv: Interval, default: str) -> None:
        """Note this interval's CPU gauges: under their `instance` tag when they have one,
        else as `default` (the archive or worker they came from). The interval keeps them."""
        for (name, tags), sink in iv.metrics.items():
            if name != CPU or not isinstance(sink, GaugeSink) or not sink.n:
                continue
            inst = dict(tags).get(INSTANCE_TAG)
            label = default if inst is None else f"{default} {INSTANCE_TAG} {inst}".strip()
            mine = self.by_instance.get(label)
            if mine is None:
                if len(self.by_instance) >= MAX_INSTANCES:
                    continue
                mine = self.by_instance[label] = GaugeSink()
                if inst == COORDINATOR:
                    self.coordinators.add(label)
            merge_sink(mine, sink)

    def busiest(self) -> str | None:
        """The instance with the highest peak; a fleet coordinator's own CPU only when
        nothing else reported (it judges and merges, it does not generate the load)."""
        workers = [k for k in self.by_instance if k not in self.coordinators]
        candidates = workers or list(self.by_instance)
        if not candidates:
            return None
        return max(candidates, key=lambda k: (self.by_instance[k].max,
                                              self.by_instance[k].value))

    def apply(self, store: Any, registry: Registry) -> dict[str, Any]:
        """The summary's `loadgen_cpu` becomes the busiest instance's; returns the JSON
        section naming every instance's value, min and max."""
        top = self.busiest()
        if top is None or CPU not in registry.metrics:
            return {}
        sink = store.sink(registry[CPU])
        src = self.by_instance[top]
        if isinstance(sink, GaugeSink):
            sink.value, sink.min, sink.max, sink.n = src.value, src.min, src.max, src.n
        return {CPU: {"busiest": top, "by_instance": {
            k: {"value": g.value, "min": g.min, "max": g.max}
            for k, g in sorted(self.by_instance.items())}}}


class SummedGauges:
    """`vus` and `vus_max` over several instances: per interval, the sum of every
    instance's latest value (see the module doc). Fed intervals in time order."""

    def __init__(self, registry: Registry, store: Any, timeseries: TimeSeries | None) -> None:
        self.registry = registry
        self.store = store
        self.timeseries = timeseries
        #: per metric and (instance, tags): [last, min, max] in the second being summed
        self.latest: dict[str, dict[tuple[int, TagSet], list[float]]] = {n: {} for n in SUMMED}
        self.tags: dict[str, TagSet] = {}
        self.second: int | None = None
        #: (series interval, metric, scenario) -> per instance its aggregate there
        self.series: dict[tuple[int, str, str], dict[int, GaugeAgg]] = {}

    def take(self, instance: int, iv: Interval) -> None:
        """Pull this interval's summed gauges out of it (the rest is applied as usual)."""
        second = round(iv.end_s)
        if self.second is not None and second > self.second:
            self._emit()
        self.second = second if self.second is None else max(self.second, second)
        for key in [k for k in iv.metrics if k[0] in SUMMED]:
            name, tags = key
            sink: Sink = iv.metrics.pop(key)
            if isinstance(sink, GaugeSink) and sink.n:
                have = self.latest[name].get((instance, tags))
                if have is None or have[3]:  # new, or carried over from an earlier second
                    have = self.latest[name][(instance, tags)] = [sink.value, sink.min,
                                                                  sink.max, 0.0]
                have[0] = sink.value
                have[1], have[2] = min(have[1], sink.min), max(have[2], sink.max)
                self.tags.setdefault(name, tags)
        for skey in [k for k in iv.series if k[1] in SUMMED]:
            agg = iv.series.pop(skey)
            if isinstance(agg, GaugeAgg) and agg.n:
                self.series.setdefault(skey, {})[instance] = agg
        self._flush_series(before=self.second - 2)

    def finish(self) -> None:
        self._emit()
        self._flush_series(before=None)

    def _emit(self) -> None:
        """One aggregate per summed gauge and second: the instances' last values, minima
        and maxima added up (an instance without an interval in that second counts at its
        last value). One instance alone gives back its own gauge exactly; for several, the
        maximum is the sum of their peaks within the second (they ramp together)."""
        for name, values in self.latest.items():
            if values and name in self.registry.metrics:
                g = GaugeSink()
                g.value = sum(v[0] for v in values.values())
                g.min = sum(v[1] for v in values.values())
                g.max = sum(v[2] for v in values.values())
                g.n = 1
                self.store.absorb(self.registry[name], self.tags[name], g)
                for v in values.values():  # carried into the next second at its last value
                    v[1] = v[2] = v[0]
                    v[3] = 1.0

    def _flush_series(self, before: int | None) -> None:
        """Series intervals no later instance can still add to: their sums, applied."""
        if self.timeseries is None:
            self.series.clear()
            return
        for skey in [k for k in self.series if before is None or k[0] < before]:
            parts = self.series.pop(skey)
            total = GaugeAgg()
            total.last = sum(a.last for a in parts.values())
            total.min = sum(a.min for a in parts.values())
            total.max = sum(a.max for a in parts.values())
            total.n = sum(a.n for a in parts.values())
            k, name, scen = skey
            self.timeseries.absorb(k, self.registry[name], scen, total)
