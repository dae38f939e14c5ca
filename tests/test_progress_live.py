"""The live figures of the progress (req/s over the last interval, failed %, p95 so far, the
scenario's thresholds), and rich's live display on a terminal, drawn to a Console over a
StringIO with the run on the fake clock: the numbers are the run's, the final frame is
drawn once."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import Any

import numpy as np
from fakes import Harness
from rich.console import Console

from loadgen import ConstantVUs, Scenario
from loadgen.execution.engine import Engine, Hooks, ScenarioSpec
from loadgen.execution.progress import Progress
from loadgen.fleet.progress import FleetProgress
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.metrics.timeseries import TimeSeries
from loadgen.net.types import Headers, RawResponse, Request, Timings
from loadgen.results.config import ResultsConfig
from loadgen.results.interval import IntervalRecorder, apply, interval_store
from loadgen.results.live import LiveFigures
from loadgen.results.pipeline import Results
from loadgen.testing import MockTransport

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Shop(Scenario):
    thresholds = {"http_req_failed{scenario:shop}": ["rate<0.3"],
                  "http_req_duration": ["p(95)<500"]}

    async def iteration(self, vu: Any) -> None:
        await vu.http.get("/ok")
        if vu.iteration % 2 == 0:
            await vu.http.get("/bad")
        await vu.sleep(0.1)


def shop_run(progress_kw: dict[str, Any], log_at: float | None = None,
             ) -> tuple[Harness, Results, Progress]:
    """Shop on the fake clock for 4 s: /ok answers 200 in 10 ms, /bad 503 in 30 ms; a
    warning is logged at `log_at` s."""
    h = Harness()

    async def answer(request: Request) -> RawResponse:
        bad = request.url.endswith("/bad")
        lat = 0.03 if bad else 0.01
        await h.clock.sleep(lat)
        return RawResponse(503 if bad else 200, Headers([("Content-Length", "2")]), b"ok",
                           "HTTP/1.1", Timings(waiting=lat * 1000), "", 0, 50, 40)

    h.transport = MockTransport(answer)
    specs = [ScenarioSpec("shop", Shop, ConstantVUs(vus=2, duration="4s"),
                          base_url="http://127.0.0.1:9", expected=Shop.expected_statuses)]
    results = Results(h.registry, specs, ResultsConfig(), now_ns=h.clock.now_ns)
    progress = Progress(live=results.live_figures(), **progress_kw)
    engine = Engine(h.run_ctx, specs, Hooks(ingest=lambda r: (results.ingest(r),
                                                              h.records.extend(r)),
                                            tick=results.tick, progress=progress,
                                            started=results.started,
                                            exec_started=results.exec_started))

    async def main() -> None:
        run = asyncio.ensure_future(engine.execute())
        if log_at is not None:
            await h.clock.sleep(log_at)
            logging.getLogger("loadgen").warning("a warning mid-run")
        await run

    asyncio.run(h.clock.run(main()))
    return h, results, progress


def test_plain_frames_carry_the_runs_own_figures() -> None:
    out = io.StringIO()
    h, results, _ = shop_run({"stream": out, "every": 1.0})
    frames = [f for f in out.getvalue().split("\n\n") if f.startswith("running (")]
    assert len(frames) == 4, out.getvalue()  # 1 s, 2 s, 3 s and the final one at 4 s
    reqs = [r for r in h.records if r[0] == 1]
    failed = sum(1 for r in reqs if r[10])
    last = frames[-1].splitlines()
    # the final frame: req/s over the scenario's run, failed % and p95 of every request
    d = np.array([r[3] for r in reqs])
    p95 = float(np.percentile(d, 95))  # 30 ms (a third of the requests are the slow ones)
    assert f"{len(reqs) / 4:.1f} req/s  {100 * failed / len(reqs):.2f}% failed  " \
           f"p95 {p95:.2f}ms  thresholds ✗ 0/1 (http_req_failed{{scenario:shop}} " \
           "rate<0.3)" in last[1], last
    assert last[0].endswith("thresholds ✓ 1/1"), last  # the unscoped p(95)<500
    # a frame's req/s is over the last interval, not since the start: steady here
    mid = [re.search(r"(\d+\.\d) req/s", f.splitlines()[1]) for f in frames[1:3]]
    assert all(m is not None and abs(float(m.group(1)) - len(reqs) / 4) < 3 for m in mid)


def test_rich_live_display_on_a_terminal_draws_the_final_frame_once() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=200, color_system="truecolor")
    handler = logging.StreamHandler(buf)  # the run's log, on the same terminal
    logging.getLogger().addHandler(handler)
    try:
        _, _, progress = shop_run({"console": console}, log_at=1.5)
    finally:
        logging.getLogger().removeHandler(handler)
    assert handler.stream is buf  # given back once the display stopped
    raw = buf.getvalue()
    # a log line during the run is printed above the table, whole, not inside a redraw
    assert re.search(r"(^|[\n\r])a warning mid-run\n", ANSI.sub("", raw)), raw
    text = ANSI.sub("", raw)
    assert progress.tty and "\x1b[" in raw  # drawn in place, with colours
    # the cursor is shown again at once (a second Ctrl-C exits without stopping rich)
    assert raw.index("\x1b[?25h") < raw.index("running (001.0s)"), raw[:200]
    for head in ("scenario", "progress", "VUs", "req/s", "failed", "p95", "thresholds"):
        assert head in text, text
    assert "✗ 0/1 (http_req_failed{scenario:shop} rate<0.3)" in text
    assert "━" in text  # the progress bar
    # every second redraws the table in place; the final one (the ✓ of a finished
    # scenario) is drawn exactly once, not again by the display's stop
    assert len(re.findall(r"shop +✓", text)) == 1, text
    assert re.search(r"shop +✓ +━+ +0/2 VUs +4s/4s +64 iters .*\n$", text), text[-400:]


def test_a_fleets_intervals_give_the_same_figures_as_the_records() -> None:
    registry = Registry()
    rec = Recorder()
    rng = np.random.default_rng(3)
    for i in range(3000):
        status = 503 if i % 7 == 0 else 200
        tags = tagset(scenario="a" if i % 2 else "b", name=f"n{i % 5}", status=str(status))
        d = float(rng.lognormal(2.0, 0.6))
        rec.http(i, tags, d, 0, 0, 0, 0, d, 0, int(status == 503))
    recs = rec.drain()
    direct_store = Store(registry)
    direct = LiveFigures(direct_store)
    direct_store.ingest(recs)
    store = interval_store(registry)
    merged = LiveFigures(store)
    iv = IntervalRecorder(registry)
    iv.start(0)
    for i in range(0, len(recs), 1000):
        iv.ingest(recs[i:i + 1000])
        apply(iv.cut(float(i), {}), registry, store, None)
    for name in ("a", "b"):
        x, y = direct.of(name), merged.of(name)
        assert x is not None and y is not None
        assert (x.requests, x.failed, x.judged) == (y.requests, y.failed, y.judged)
        assert x.p95_ms == y.p95_ms
        assert abs(x.p95_ms - float(np.percentile([r[3] for r in recs if dict(r[2])[
            "scenario"] == name], 95))) < 0.01 * x.p95_ms  # within the buckets' 0.78%


class FakeFleet:
    workers = [type("W", (), {"running": True})()]

    def vu_counts(self) -> tuple[int, int]:
        return 3, 4

    def iterations(self) -> tuple[int, int]:
        return 10, 0


def test_fleet_progress_shows_each_scenarios_merged_figures() -> None:
    registry = Registry()
    store = Store(registry)
    live = LiveFigures(store)
    rec = Recorder()
    for i in range(20):
        rec.http(i, tagset(scenario="shop", status="200"), 5.0, 0, 0, 0, 0, 5.0, 0, int(i < 5))
    store.ingest(rec.drain())
    out = io.StringIO()
    engine = type("E", (), {"elapsed_s": lambda self: 2.0})()
    FleetProgress(FakeFleet(), out, live=live, scenarios=["shop", "idle"])(engine, True)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("running (002.0s), 03/04 VUs, 10 complete"), lines
    assert lines[1] == "shop  10.0 req/s  25.00% failed  p95 5.00ms", lines
    assert lines[2] == "idle", lines


def test_fleet_req_rate_is_by_sample_time_not_by_arrival() -> None:
    """Workers' intervals arrive a second late and in bursts: the fleet's req/s is the last
    whole second's requests by their own timestamps, not what arrived since the last frame."""
    registry = Registry()
    store = Store(registry, timeseries=TimeSeries(0))
    live = LiveFigures(store)
    rec = Recorder()
    for second, n in ((0, 10), (1, 20), (2, 30)):
        for i in range(n):
            t = second * 1_000_000_000 + i * 1_000_000
            rec.http(t, tagset(scenario="shop", status="200"), 5.0, 0, 0, 0, 0, 5.0, 0, 0)
    store.ingest(rec.drain())  # all three seconds land at once
    elapsed = [3.5]
    engine = type("E", (), {"elapsed_s": lambda self: elapsed[0]})()
    out = io.StringIO()
    progress = FleetProgress(FakeFleet(), out, live=live, scenarios=["shop"], every=1.0)
    progress(engine, False)
    # at 3.5 s the last second every worker has surely sent is [1 s, 2 s): 20 requests
    # (by arrival it would be all 60 since the start: 17.1/s)
    assert "shop  20.0 req/s" in out.getvalue(), out.getvalue()
    elapsed[0] = 4.6
    out.seek(0)
    out.truncate(0)
    progress(engine, False)
    assert "shop  30.0 req/s" in out.getvalue(), out.getvalue()  # [2 s, 3 s): 30
