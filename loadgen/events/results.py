"""The events' side of a run's results: the NDJSON points as events happen, and at the end
`loadgen.events` / `loadgen.recovery` in the JSON files, the EVENTS section of the text
summary, the recovery verdicts and the exit code (99 when a required event failed or a
recovery verdict failed, unless a worse code already applies).

NDJSON: each event is one Point of a `loadgen_event` trend (value: its duration in ms, time:
its start, tags: event, kind, ok, required and status; metadata: the output tail), with
its Metric line first. k6's own format has only Metric and Point lines, and the tools that
read it (jq filters on `.type=="Point"`, importers that switch on the type) accept any new
metric but not an unknown line type, so an `{"type":"Annotation"}` line would break them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from loadgen.errors import ExitCode
from loadgen.events.model import EventOutcome
from loadgen.events.plan import EventPlan
from loadgen.events.recovery import Period, RecoveryResult, add_messages, judge, undecided
from loadgen.events.runner import EventRunner
from loadgen.metrics.model import Contains, Metric, MetricType, SubMetric
from loadgen.testtypes.delivery import delivery_figures
from loadgen.testtypes.view import RunView

log = logging.getLogger("loadgen")
EVENT_METRIC = Metric("loadgen_event", MetricType.TREND, Contains.TIME)
#: how often the answer watch samples: a fault of a second or two must contain whole
#: periods (records reach the store every 50 ms; a fleet's intervals every second)
SAMPLE_S = 0.25
#: "dead" periods kept (those in which nothing was answered); a healthy run keeps none
MAX_PERIODS = 20_000
#: during the run, a recovery is judged on intervals at least this old: newer ones are
#: still filling (records land every 50 ms; a fleet's intervals about a second late)
SETTLE_NS = 3_000_000_000


class AnswerWatch:
    """Did the target answer? Every SAMPLE_S, per measured scenario, how many requests
    completed and how many of them got no HTTP response at all (status 0: refused, reset,
    timed out); only the periods in which none was answered are kept. Read from two
    internal sub-metrics of http_reqs, so a fleet's merged intervals are watched the same
    way as one process's records (at their one-second grain)."""

    def __init__(self, store: Any, registry: Any, scenarios: list[str], clock: Any) -> None:
        self.store = store
        self.clock = clock
        self.subs: dict[str, tuple[SubMetric, SubMetric]] = {}
        for scen in scenarios:
            total = store.add_submetric(registry["http_reqs"], f"scenario:{scen}",
                                        (("scenario", scen),))
            dead = store.add_submetric(registry["http_reqs"], f"scenario:{scen},status:0",
                                       (("scenario", scen), ("status", "0")))
            for sub in (total, dead):
                sub.internal = True
            self.subs[scen] = (total, dead)
        self.periods: dict[str, deque[tuple[int, int, int, int]]] = {
            s: deque(maxlen=MAX_PERIODS) for s in scenarios}
        self._last: dict[str, tuple[int, int, int]] = {}

    def _count(self, sub: SubMetric) -> int:
        sink = self.store.existing(sub)
        return int(sink.aggregate("count", 0) or 0) if sink is not None else 0

    def sample(self) -> None:
        now = self.clock.now_ns()
        for scen, (total, dead) in self.subs.items():
            t, d = self._count(total), self._count(dead)
            last = self._last.get(scen)
            if last is not None and t == last[1]:
                continue  # nothing completed: the quiet time joins the next period
            if last is not None and d - last[2] >= t - last[1]:
                self.periods[scen].append((last[0], now, t - last[1], d - last[2]))
            self._last[scen] = (now, t, d)

    async def run(self) -> None:
        """A background sampler for the whole run (the engine cancels it at the end)."""
        while True:
            self.sample()
            await self.clock.sleep(SAMPLE_S)

    def series(self, scenario: str, origin_ns: int) -> list[Period]:
        return [Period((a - origin_ns) / 1e9, (b - origin_ns) / 1e9, t, d)
                for a, b, t, d in self.periods.get(scenario, ())]


class EventResults:
    """Wired by the run command: the runner's outcomes in, the results' additions out
    (`finish(results, judgement)`, called by the pipeline after the final judgement)."""

    def __init__(self, plan: EventPlan, runner: EventRunner, results: Any, clock: Any,
                 registry: Any) -> None:
        self.plan = plan
        self.runner = runner
        self.results = results
        scens = sorted({r.scenario for r in plan.recoveries})
        self.watch = AnswerWatch(results.store, registry, scens, clock) if scens else None
        runner.on_outcome = self.write_point
        #: verdicts decided during the run (by plan index), kept as they were then
        self.frozen: dict[int, RecoveryResult] = {}
        #: the run's delivery tracker when it is in this process (a single-process run)
        self.tracker: Callable[[], Any] | None = None
        self._tick_failed = False

    def kill_now(self) -> None:
        self.runner.kill_now()

    def background(self) -> list[Any]:
        return [self.watch.run] if self.watch is not None else []

    # -- NDJSON -------------------------------------------------------------------------
    def write_point(self, o: EventOutcome) -> None:
        if o.started_s is None:
            return
        tags = {"event": o.event.name, "kind": o.event.kind, "ok": str(o.ok).lower(),
                "required": str(o.event.required).lower()}
        if o.status is not None:
            tags["status"] = str(o.status)
        meta = {"output_tail": o.output_tail} if o.output_tail else None
        streams = self.results.streams
        for w in list(streams.raw) + list(streams.buckets):
            w.sample(EVENT_METRIC, o.wall_ns, o.duration_s * 1000, tags, meta)

    # -- during the run -----------------------------------------------------------------
    def tick(self) -> None:
        """Every 2 s: a recovery seen to happen is judged now and kept, while its
        intervals are still at 1 s: the time series merges older intervals as a long run
        goes on (a fault at 5m of a 10m run would otherwise be judged on 4-second
        intervals). One not yet recovered waits for the end, even past its `within=`
        deadline, so that a late recovery still reports when it happened."""
        now = self.results.now_ns() if self.results.now_ns else None
        if now is None:
            return
        try:
            for i, plan in enumerate(self.plan.recoveries):
                if i in self.frozen:
                    continue
                r = self.recovery(plan, self.runner.outcomes, now - SETTLE_NS)
                if r.recovery_s is not None:
                    self.frozen[i] = r
        except Exception:  # noqa: BLE001 - the run goes on; the end judges again
            if not self._tick_failed:
                self._tick_failed = True
                log.exception("recovery verdicts could not be judged during the run")

    # -- the end ------------------------------------------------------------------------
    def finish(self, results: Any, judgement: Any) -> None:
        outcomes = sorted(self.runner.outcomes,
                          key=lambda o: (o.event.at_ns, o.started_s or 0.0))
        if self.plan.events:
            results.sections["events"] = [o.to_json() for o in outcomes]
            results.more_text.append(render_events(outcomes))
        recs = [self.frozen.get(i) or self.recovery(p, outcomes)
                for i, p in enumerate(self.plan.recoveries)]
        messages = delivery_figures(self.results.store)  # final: lost are counted at the end
        tracker = self.tracker() if self.tracker is not None else None
        for r in recs:
            window = (tracker.window(*r.window_ns)
                      if tracker is not None and r.window_ns is not None else None)
            add_messages(r, messages, window)
        if self.plan.recoveries:
            results.sections["recovery"] = [r.to_json() for r in recs]
        judgement.verdicts.extend(r.verdict() for r in recs)
        bad = [o for o in outcomes if not o.ok]
        results.more_warnings.extend(
            f"event {o.event.name} ({o.event.kind}){' [required]' if o.event.required else ''}"
            f" failed: {_last_line(o)}" for o in bad)
        failed = [o for o in bad if o.event.required] + [r for r in recs if r.passed is False]
        if failed and judgement.exit_code == ExitCode.OK:
            judgement.exit_code = ExitCode.THRESHOLDS_FAILED
            for r in recs:
                if r.passed is False:
                    log.error("recovery after %s failed: %s", r.plan.after, r.headline)

    def recovery(self, plan: Any, outcomes: list[EventOutcome], now_ns: int | None = None,
                 ) -> RecoveryResult:
        """The verdict on what was seen until `now_ns` (default: now, the run's end)."""
        by_name = {o.event.name: o for o in outcomes}
        after = by_name.get(plan.after)
        until = by_name.get(plan.until) if plan.until else after
        for ref, o in ((plan.after, after), (plan.until, until)):
            if o is None or o.started_s is None:
                return undecided(plan, f"the event {ref!r} did not run")
        assert after is not None and until is not None and after.started_s is not None
        t0 = self.runner.origin_ns
        spec = next(s for s in self.results.judge.specs if s.name == plan.scenario)
        ts = self.results.timeseries
        now = now_ns if now_ns is not None else (
            self.results.now_ns() if self.results.now_ns else None)
        if t0 is None or now is None:
            return undecided(plan, "the load never started")
        scen_start = t0 + spec.executor.start_time_ns
        view = RunView(ts, plan.scenario, (scen_start - ts.origin_ns) / 1e9,
                       max(0.0, (now - scen_start) / 1e9), self.results.store, True,
                       spec.executor.duration_ns() / 1e9)
        shift = spec.executor.start_time_ns / 1e9
        periods = (self.watch.series(plan.scenario, scen_start)
                   if self.watch is not None else None)
        result = judge(plan, view.series(), after.started_s - shift,
                       (until.ended_s or 0.0) - shift, view.until_s, periods)
        if "window_end_s" in result.figures:
            result.window_ns = (scen_start + round((after.started_s - shift) * 1e9),
                                scen_start + round(result.figures["window_end_s"] * 1e9))
        failed = [o.event.name for o in ([after] if until is after else [after, until])
                  if not o.ok]
        if failed:  # judged all the same: the fault may have half happened
            result.headline += f"; note: event {', '.join(failed)} failed"
        return result


def _last_line(o: EventOutcome) -> str:
    lines = o.output_tail.strip().splitlines()
    return lines[-1] if lines else f"status {o.status}"


def render_events(outcomes: list[EventOutcome]) -> str:
    """The `█ EVENTS` section, after k6's summary: one line per event, its output's last
    line under a failed one."""
    if not outcomes:
        return ""
    lines = []
    for o in outcomes:
        mark = "✓" if o.ok else "✗"
        when = f"{o.started_s:.1f}s" if o.started_s is not None else "-"
        status = ("" if o.status is None
                  else f" exit {o.status}" if o.event.kind == "shell" else f" HTTP {o.status}")
        req = " [required]" if o.event.required else ""
        lines.append(f"    {mark} {o.event.name} ({o.event.kind}) at {when}:{status} in "
                     f"{o.duration_s:.2f}s{req}")
        if not o.ok:
            lines.append(f"      {_last_line(o)[:200]}")
    return "  █ EVENTS \n\n" + "\n".join(lines) + "\n\n"
