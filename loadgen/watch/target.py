"""Watching the target: its process (psutil) and its Prometheus metrics (scrape.py).

Both become ordinary gauge metrics, so the user's thresholds work as written:
`target_rss_growth: ["value<0.10"]`, `messaging_consumer_lag_seconds: ["max<5"]`... A target
that stops answering is reported (logged once, `target_scrape_errors` counted), never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from loadgen.metrics.model import Contains, MetricType, TagSet
from loadgen.metrics.registry import Recorder, Registry
from loadgen.watch.scrape import ScrapeWatch

__all__ = ["ProcessWatch", "ScrapeWatch", "watchers_summary"]

log = logging.getLogger("loadgen")


class ProcessWatch:
    """RSS, CPU, open file descriptors and threads of one process, every second.

    Descriptors are counted with `num_fds()` — files, sockets, pipes, epoll — because a
    leak of connections is the one a load test finds; psutil's `open_files()` lists
    regular files only, so the metric it fed (`target_open_files`) stayed flat while
    sockets piled up.
    """

    def __init__(self, pid: int, registry: Registry, recorder: Recorder, tags: TagSet) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.recorder = recorder
        self.tags = tags
        g = MetricType.GAUGE
        self.m_rss = registry.define("target_rss", g, Contains.DATA)
        self.m_growth = registry.define("target_rss_growth", g)
        self.m_cpu = registry.define("target_cpu", g)
        self.m_fds = registry.define("target_open_fds", g)
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
                    fds = float(self.proc.num_fds())
                except (psutil.AccessDenied, AttributeError):  # AttributeError: Windows
                    fds = float("nan")
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
        if fds == fds:  # not NaN
            rec.sample(self.m_fds, fds, tags, t_ns)
        rec.sample(self.m_threads, threads, tags, t_ns)

    async def run(self, period_s: float = 1.0) -> None:
        self.proc.cpu_percent(None)  # prime: the first call always says 0
        while True:
            self.sample(time.perf_counter_ns())
            await asyncio.sleep(period_s)


def watchers_summary(watchers: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w in watchers:
        if isinstance(w, ScrapeWatch):
            out.setdefault("scrape", []).append(w.summary())
        elif isinstance(w, ProcessWatch):
            out.setdefault("process", []).append(
                {"pid": w.proc.pid, "alive": w.alive, "first_rss": w.first_rss})
    return out
