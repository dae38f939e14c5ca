"""`--out prometheus=HOST:PORT`: the run's metrics served live for a Prometheus to scrape.

Wiring only: the numbers are kept by `prom_metrics.LiveMetrics` (fed by the store, so a
`--workers` coordinator serves the merged intervals exactly as one process serves its
records), the endpoint is `prom_server.PromServer`, bound here, before the run starts (a
port in use or a bad address is a 104 naming it) and stopped when the results close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadgen.errors import ConfigError

if TYPE_CHECKING:  # prometheus_client (and its http.server) is imported by an output only
    from loadgen.metrics.ingest import Store
    from loadgen.metrics.registry import Registry
    from loadgen.results.judge import Judge
    from loadgen.results.prom_server import PromServer


def is_prometheus(spec: str) -> bool:
    return spec.partition("=")[0].strip() == "prometheus"


class PrometheusOutput:
    def __init__(self, specs: list[str], registry: Registry, store: Store, judge: Judge
                 ) -> None:
        from prometheus_client import CollectorRegistry

        from loadgen.results.prom_metrics import LiveMetrics
        from loadgen.results.prom_server import PromServer

        names = [n for n in registry.metrics if n not in judge.scrape_defined]
        self.live = LiveMetrics(registry, names, thresholds=lambda: threshold_states(judge))
        store.add_observer(self.live.metrics, self.live)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.live)
        self.servers: list[PromServer] = []
        problems: list[str] = []
        for spec in specs:
            try:
                self.servers.append(PromServer(spec, self.registry))
            except ConfigError as e:
                problems += e.problems
        if problems:
            self.close()
            raise ConfigError(problems)

    def close(self) -> None:
        for s in self.servers:
            s.stop()
        self.servers = []


def threshold_states(judge: Judge) -> list[tuple[str, str, bool]]:
    """(metric, expression, passing) as last judged (every 2 s, and at the end)."""
    if not judge.enabled:
        return []
    return [(mt.name, spec.source, ok) for mt in list(judge.tset.metrics)
            for spec, ok in zip(mt.specs, list(mt.last_ok), strict=False)]


def open_prometheus(specs: list[str], registry: Registry, store: Store, judge: Judge
                    ) -> PrometheusOutput | None:
    wanted = [s for s in specs if is_prometheus(s)]
    return PrometheusOutput(wanted, registry, store, judge) if wanted else None
