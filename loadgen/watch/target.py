"""Watching the target: its process (psutil) and its Prometheus metrics (scrape).

Both become ordinary gauge metrics, so the user's thresholds work as written:
`target_rss_growth: ["value<0.10"]`, `messaging_consumer_lag_seconds: ["max<5"]`... A target
that stops answering is reported (logged once, `target_scrape_errors` counted), never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
from typing import Any

from loadgen.metrics.model import Contains, Metric, MetricType, TagSet, tagset
from loadgen.metrics.registry import Recorder, Registry

log = logging.getLogger("loadgen")


class ProcessWatch:
    """RSS, CPU, open files and threads of one process, every second."""

    def __init__(self, pid: int, registry: Registry, recorder: Recorder, tags: TagSet) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.recorder = recorder
        self.tags = tags
        g = MetricType.GAUGE
        self.m_rss = registry.define("target_rss", g, Contains.DATA)
        self.m_growth = registry.define("target_rss_growth", g)
        self.m_cpu = registry.define("target_cpu", g)
        self.m_files = registry.define("target_open_files", g)
        self.m_threads = registry.define("target_threads", g)
        self.first_rss: float | None = None
        self.alive = True

    def sample(self, t_ns: int) -> None:
        import psutil

        try:
            with self.proc.oneshot():
                rss = float(self.proc.memory_info().rss)
                cpu = self.proc.cpu_percent(None) / 100
                try:
                    files = float(len(self.proc.open_files()))
                except psutil.AccessDenied:
                    files = float("nan")
                threads = float(self.proc.num_threads())
        except psutil.Error as e:
            if self.alive:
                log.warning("target process %s cannot be read any more: %s", self.proc.pid, e)
            self.alive = False
            return
        if self.first_rss is None:
            self.first_rss = rss
        rec, tags = self.recorder, self.tags
        rec.sample(self.m_rss, rss, tags, t_ns)
        rec.sample(self.m_growth, rss / self.first_rss - 1 if self.first_rss else 0.0, tags, t_ns)
        rec.sample(self.m_cpu, cpu, tags, t_ns)
        if files == files:  # not NaN
            rec.sample(self.m_files, files, tags, t_ns)
        rec.sample(self.m_threads, threads, tags, t_ns)

    async def run(self, period_s: float = 1.0) -> None:
        self.proc.cpu_percent(None)  # prime: the first call always says 0
        while True:
            self.sample(time.perf_counter_ns())
            await asyncio.sleep(period_s)


class ScrapeWatch:
    """Prometheus text exposition -> one gauge per series, labels as tags."""

    def __init__(self, url: str, registry: Registry, recorder: Recorder,
                 run_tags: dict[str, str], timeout_s: float = 2.0) -> None:
        self.url = url
        self.registry = registry
        self.recorder = recorder
        self.run_tags = run_tags
        self.timeout_s = timeout_s
        self.m_errors = registry.define("target_scrape_errors", MetricType.COUNTER)
        self.failures = 0
        self.scrapes = 0
        self._metrics: dict[str, Metric | None] = {}
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {}

    def _metric(self, name: str) -> Metric | None:
        if name not in self._metrics:
            try:
                m = self.registry.define(name, MetricType.GAUGE)
            except Exception:  # noqa: BLE001 - a clash with a built-in/other type: skip it
                m = None
            self._metrics[name] = m
        return self._metrics[name]

    def ingest_text(self, text: str, t_ns: int) -> int:
        """Parse one exposition and record every sample; returns how many were recorded.

        Histograms and summaries become one gauge under the family's own name: the mean of
        the observations since the previous scrape (delta sum / delta count), so a lag
        exported as a histogram can be gated as written (`..._lag_seconds: ["max<5"]`);
        their `_sum`/`_count` series are kept, the per-bucket series are not (noise).
        """
        from prometheus_client.parser import text_string_to_metric_families

        n = 0
        for family in text_string_to_metric_families(text):
            folded = family.type in ("histogram", "summary", "gaugehistogram")
            parts: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
            for s in family.samples:
                if s.value != s.value or (folded and s.name.endswith("_bucket")):
                    continue
                labels = {k: str(v) for k, v in s.labels.items() if k not in ("le", "quantile")}
                if folded and s.name in (family.name + "_sum", family.name + "_count"):
                    parts.setdefault(tuple(sorted(labels.items())), {})[
                        s.name[len(family.name) + 1:]] = float(s.value)
                if folded and "quantile" in s.labels:
                    continue
                m = self._metric(s.name)
                if m is None:
                    continue
                self.recorder.sample(m, float(s.value), tagset({**self.run_tags, **labels}), t_ns)
                n += 1
            for key, sc in parts.items():
                n += self._mean_since_last(family.name, key, sc, t_ns)
        self.scrapes += 1
        return n

    def _mean_since_last(self, name: str, labels: tuple[tuple[str, str], ...],
                         sc: dict[str, float], t_ns: int) -> int:
        if "sum" not in sc or "count" not in sc:
            return 0
        prev = self._last.get((name, labels))
        self._last[(name, labels)] = (sc["sum"], sc["count"])
        if prev is None:
            d_sum, d_count = sc["sum"], sc["count"]  # since the target started
        else:
            d_sum, d_count = sc["sum"] - prev[0], sc["count"] - prev[1]
        m = self._metric(name)
        if m is None or d_count <= 0:
            return 0
        self.recorder.sample(m, d_sum / d_count, tagset({**self.run_tags, **dict(labels)}), t_ns)
        return 1

    def _fetch(self) -> str:
        with urllib.request.urlopen(self.url, timeout=self.timeout_s) as r:  # noqa: S310
            return r.read().decode("utf-8", "replace")  # type: ignore[no-any-return]

    async def scrape_once(self) -> bool:
        t = time.perf_counter_ns()
        try:
            text = await asyncio.to_thread(self._fetch)
            self.ingest_text(text, t)
            return True
        except Exception as e:  # noqa: BLE001 - the target may be down: report, go on
            self.failures += 1
            self.recorder.sample(self.m_errors, 1.0, tagset(self.run_tags), t)
            if self.failures == 1:
                log.warning("scrape of %s failed: %s (counted in target_scrape_errors)",
                            self.url, e)
            return False

    async def run(self, period_s: float = 1.0) -> None:
        while True:
            await self.scrape_once()
            await asyncio.sleep(period_s)


def watchers_summary(watchers: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w in watchers:
        if isinstance(w, ScrapeWatch):
            out.setdefault("scrape", []).append(
                {"url": w.url, "scrapes": w.scrapes, "failures": w.failures})
        elif isinstance(w, ProcessWatch):
            out.setdefault("process", []).append(
                {"pid": w.proc.pid, "alive": w.alive, "first_rss": w.first_rss})
    return out
