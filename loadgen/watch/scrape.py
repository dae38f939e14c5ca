"""`--scrape URL`: a Prometheus endpoint read every second, each series a gauge.

The scrape runs on the run's own event loop (aiohttp), never in a thread: a thread blocked
on a socket cannot be cancelled, so a slow or trickling endpoint used to hold the process
past its end, and an endless body was read into memory to the last byte. Here every scrape
has a deadline shorter than the interval (`SCRAPE_DEADLINE_FRACTION`), the body is capped at
`SCRAPE_BODY_CAP` (after decompression), and at most `MAX_SERIES` series are kept per scrape;
a scrape that fails or is cut is counted in `target_scrape_errors` and warned about once per
kind of failure, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadgen.metrics.model import Metric, MetricType, tagset
from loadgen.metrics.registry import Recorder, Registry

if TYPE_CHECKING:  # aiohttp (~0.1 s of CPU to import) is loaded only when a run scrapes
    import aiohttp

log = logging.getLogger("loadgen")

SCRAPE_BODY_CAP = 16 * 2**20  # bytes of exposition text (decompressed) read per scrape
SCRAPE_DEADLINE_FRACTION = 0.8  # of the interval: a scrape never overlaps the next one
MAX_SERIES = 10_000  # series kept per scrape and per endpoint in the summary table
SUMMARY_TOP = 50  # label sets per series name in the JSON summary (largest values first)
_CHUNK = 64 * 1024
_COUNTER_LIKE = ("counter", "histogram", "summary", "gaugehistogram")

Labels = tuple[tuple[str, str], ...]


class ScrapeFailed(Exception):
    """One scrape that gave nothing usable; `kind` groups failures for warning once each."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class SeriesStats:
    """One label set of one series over the run: what the summary shows for it."""

    last: float
    low: float
    high: float

    def add(self, value: float) -> None:
        self.last = value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class ScrapeWatch:
    """Prometheus text exposition -> one gauge per series name, labels as tags."""

    def __init__(self, url: str, registry: Registry, recorder: Recorder,
                 run_tags: dict[str, str], period_s: float = 1.0,
                 body_cap: int = SCRAPE_BODY_CAP) -> None:
        self.url = url
        self.registry = registry
        self.recorder = recorder
        self.run_tags = run_tags
        self.period_s = period_s
        self.timeout_s = period_s * SCRAPE_DEADLINE_FRACTION
        self.body_cap = body_cap
        self.m_errors = registry.define("target_scrape_errors", MetricType.COUNTER)
        # loadgen's own metrics (defined before any scrape): a target series of the same
        # name would silently mix into them, so it is skipped
        self.own = set(registry.metrics)
        self.failures = 0
        self.scrapes = 0
        self.last_error = ""
        self.series: dict[tuple[str, Labels], SeriesStats] = {}
        self._warned: set[str] = set()
        self._metrics: dict[str, Metric | None] = {}
        self._last: dict[tuple[str, Labels], tuple[float, float]] = {}

    # -- parsing ---------------------------------------------------------------------------
    def _metric(self, name: str) -> Metric | None:
        if name not in self._metrics:
            m: Metric | None = None
            if name in self.own:
                self._warn_once(f"own:{name}", "scrape of %s: the target's series %s has the "
                                "name of one of loadgen's own metrics; skipped", self.url, name)
            else:
                try:
                    m = self.registry.define(name, MetricType.GAUGE)
                except Exception:  # noqa: BLE001 - a clash with another type: skip it
                    m = None
            self._metrics[name] = m
        return self._metrics[name]

    def _record(self, name: str, labels: Labels, value: float, t_ns: int) -> bool:
        m = self._metric(name)
        if m is None:
            return False
        self.recorder.sample(m, value, tagset({**self.run_tags, **dict(labels)}), t_ns)
        key = (name, labels)
        st = self.series.get(key)
        if st is not None:
            st.add(value)
        elif len(self.series) < MAX_SERIES:
            self.series[key] = SeriesStats(value, value, value)
        return True

    def ingest_text(self, text: str, t_ns: int) -> int:
        """Parse one exposition and record every sample; returns how many were recorded.

        Histograms and summaries become one gauge under the family's own name: the mean of
        the observations since the previous scrape (delta sum / delta count), so a lag
        exported as a histogram can be gated as written (`..._lag_seconds: ["max<5"]`);
        their `_sum`/`_count` series are kept, the per-bucket series are not (noise), nor
        are the `_created` timestamps of counters, histograms and summaries (a start time,
        not a measurement). At most MAX_SERIES samples are kept per scrape.
        """
        from prometheus_client.parser import text_string_to_metric_families

        n = 0
        counter_like: set[str] = set()
        for family in text_string_to_metric_families(text):
            folded = family.type in ("histogram", "summary", "gaugehistogram")
            if family.type in _COUNTER_LIKE:
                counter_like.add(family.name)
            parts: dict[Labels, dict[str, float]] = {}
            for s in family.samples:
                if s.name.endswith(("_total", "_count")):
                    counter_like.add(s.name[:-6])
                if (s.value != s.value or (folded and s.name.endswith("_bucket"))
                        or (s.name.endswith("_created") and s.name[:-8] in counter_like)):
                    continue
                labels = {k: str(v) for k, v in s.labels.items() if k not in ("le", "quantile")}
                if folded and s.name in (family.name + "_sum", family.name + "_count"):
                    parts.setdefault(tuple(sorted(labels.items())), {})[
                        s.name[len(family.name) + 1:]] = float(s.value)
                if folded and "quantile" in s.labels:
                    continue
                if n >= MAX_SERIES:
                    self._warn_once("series", "scrape of %s: more than %d series; only the "
                                    "first %d of each scrape are kept", self.url, MAX_SERIES,
                                    MAX_SERIES)
                    self.scrapes += 1
                    return n
                n += self._record(s.name, tuple(sorted(labels.items())), float(s.value), t_ns)
            for key, sc in parts.items():
                n += self._mean_since_last(family.name, key, sc, t_ns)
        self.scrapes += 1
        return n

    def _mean_since_last(self, name: str, labels: Labels, sc: dict[str, float],
                         t_ns: int) -> int:
        if "sum" not in sc or "count" not in sc:
            return 0
        prev = self._last.get((name, labels))
        if prev is None and len(self._last) >= MAX_SERIES:
            return 0
        self._last[(name, labels)] = (sc["sum"], sc["count"])
        if prev is None:
            d_sum, d_count = sc["sum"], sc["count"]  # since the target started
        else:
            d_sum, d_count = sc["sum"] - prev[0], sc["count"] - prev[1]
        if d_count <= 0:
            return 0
        return int(self._record(name, labels, d_sum / d_count, t_ns))

    # -- fetching --------------------------------------------------------------------------
    async def _fetch(self, session: aiohttp.ClientSession) -> str:
        import aiohttp

        try:
            async with asyncio.timeout(self.timeout_s), session.get(self.url) as r:
                if r.status != 200:
                    raise ScrapeFailed("status", f"HTTP status {r.status}")
                body = bytearray()
                async for chunk in r.content.iter_chunked(_CHUNK):
                    if len(body) + len(chunk) > self.body_cap:
                        raise ScrapeFailed("cut", f"cut at {self.body_cap / 2**20:g} MiB (the "
                                           "body is larger than the scrape cap) and ignored")
                    body += chunk
                return body.decode("utf-8", "replace")
        except TimeoutError:
            raise ScrapeFailed("timeout", f"timed out after {self.timeout_s:g} s (the scrape "
                               "deadline)") from None
        except aiohttp.ClientError as e:
            raise ScrapeFailed("connection", f"{type(e).__name__}: {e}") from None

    async def scrape_once(self, session: aiohttp.ClientSession) -> bool:
        """One scrape, recorded; False (counted, warned once per kind) when it failed."""
        t = time.perf_counter_ns()
        try:
            text = await self._fetch(session)
            try:
                self.ingest_text(text, t)
            except ValueError as e:
                raise ScrapeFailed("parse", f"not Prometheus text: {e}") from None
            return True
        except ScrapeFailed as e:
            self.failures += 1
            self.last_error = str(e)
            self.recorder.sample(self.m_errors, 1.0, tagset(self.run_tags), t)
            self._warn_once(e.kind, "scrape of %s failed: %s (counted in target_scrape_errors; "
                            "later failures of this kind are counted, not logged)", self.url, e)
            return False

    async def run(self) -> None:
        """Scrape at a fixed rate until cancelled (the engine cancels it at the end)."""
        loop = asyncio.get_running_loop()
        async with _session() as session:
            due = loop.time()
            while True:
                await self.scrape_once(session)
                due = max(due + self.period_s, loop.time())
                await asyncio.sleep(due - loop.time())

    def _warn_once(self, kind: str, msg: str, *args: Any) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(msg, *args)

    # -- the summary -----------------------------------------------------------------------
    def summary(self, top: int = SUMMARY_TOP) -> dict[str, Any]:
        """The endpoint's figures and, per series name, its label sets with the largest last
        values first (at most `top`, with how many more there were)."""
        by_name: dict[str, list[tuple[Labels, SeriesStats]]] = {}
        for (name, labels), st in self.series.items():
            by_name.setdefault(name, []).append((labels, st))
        series: dict[str, Any] = {}
        for name in sorted(by_name):
            sets = sorted(by_name[name], key=lambda ls: (-ls[1].last, ls[0]))
            series[name] = {
                "top": [{"labels": dict(labels), "value": st.last, "min": st.low,
                         "max": st.high} for labels, st in sets[:top]],
                "more": max(0, len(sets) - top)}
        out: dict[str, Any] = {"url": self.url, "scrapes": self.scrapes,
                               "failures": self.failures, "series": series}
        if self.last_error:
            out["last_error"] = self.last_error
        return out

    def warning(self) -> str | None:
        """A line for the run's warnings when scrapes failed (None when all went well)."""
        if not self.failures:
            return None
        return (f"scrape of {self.url}: {self.failures} of {self.failures + self.scrapes} "
                f"scrapes failed (last: {self.last_error})")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be scraped (for exit 104 before the run), or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as e:
        return f"--scrape {url}: not a valid URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        return f"--scrape {url}: not an http:// or https:// URL with a host"
    return None


def _session() -> aiohttp.ClientSession:
    """One connection at a time, a new one per scrape (a connection cut by a deadline is
    never reused), no proxy from the environment, deadlines set by ScrapeWatch itself."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1, force_close=True),
                                 trust_env=False, timeout=aiohttp.ClientTimeout(total=None))
