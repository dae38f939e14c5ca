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

    def _metric(self, name: str) -> Metric | None:
        if name not in self._metrics:
            try:
                m = self.registry.define(name, MetricType.GAUGE)
            except Exception:  # noqa: BLE001 - a clash with a built-in/other type: skip it
                m = None
            self._metrics[name] = m
        return self._metrics[name]

    def ingest_text(self, text: str, t_ns: int) -> int:
        """Parse one exposition and record every sample; returns how many were recorded."""
        from prometheus_client.parser import text_string_to_metric_families

        n = 0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                m = self._metric(s.name)
                if m is None or s.value != s.value:
                    continue
                tags = tagset({**self.run_tags, **{k: str(v) for k, v in s.labels.items()}})
                self.recorder.sample(m, float(s.value), tags, t_ns)
                n += 1
        self.scrapes += 1
        return n

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
