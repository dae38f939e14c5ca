"""The events of one run, each started once at its offset from the load's start (T0).

Events at the same offset start together and run concurrently; an event runs until it ends,
its timeout passes (a shell's process group is then killed) or the run stops (Ctrl-C,
abortOnFail, the load's end): what was not finished is cancelled and recorded as such, and
events not yet due are recorded as not run. Every outcome is handed to `on_outcome` as it
happens (the NDJSON stream) and kept for the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Mapping

from loadgen.clock import Clock, wait_first
from loadgen.events.actions import Tail, kill_group, run_action
from loadgen.events.model import EventOutcome, PlannedEvent, tail_text
from loadgen.options import format_duration

log = logging.getLogger("loadgen")
#: how long a cancelled event may take to unwind (a shell to be reaped, a Call to notice)
#: before it is abandoned: a stop is never held by an event
CANCEL_GRACE_S = 3.0


class EventRunner:
    def __init__(self, events: list[PlannedEvent], clock: Clock, env: Mapping[str, str],
                 on_outcome: Callable[[EventOutcome], None] | None = None, *,
                 insecure: bool = False) -> None:
        """`env`: a shell's environment; `insecure`: HTTP calls skip TLS verification."""
        self.events = sorted(events, key=lambda e: e.at_ns)
        self.insecure = insecure
        self.clock = clock
        self.env = dict(env)
        self.on_outcome = on_outcome
        self.outcomes: list[EventOutcome] = []
        self.origin_ns: int | None = None
        self._stop: asyncio.Event | None = None
        self._reason = ""
        self._task: asyncio.Future[None] | None = None
        self._started: set[int] = set()
        self._live: set[Tail] = set()  # the running events' output and process groups

    # -- control ------------------------------------------------------------------------
    def begin(self, origin_ns: int) -> None:
        """The load starts now-ish at `origin_ns` (run clock): schedule the events."""
        if not self.events or self._task is not None:
            return
        self.origin_ns = origin_ns
        self._stop = asyncio.Event()
        if self._reason:  # stopped before it began
            self._stop.set()
        self._task = asyncio.ensure_future(self._schedule())

    def stop(self, reason: str) -> None:
        """Start nothing more; cancel what runs (the first reason is kept)."""
        if not self._reason:
            self._reason = reason
        if self._stop is not None:
            self._stop.set()

    @property
    def live_groups(self) -> list[int]:
        """The process groups of the shells running now."""
        return [t.pgid for t in self._live if t.pgid is not None]

    def kill_now(self) -> None:
        """The hard exit (a second Ctrl-C): no loop left to cancel anything in, so every
        running shell's process group is killed here, synchronously (they live in sessions
        of their own and would outlive loadgen)."""
        for pgid in self.live_groups:
            kill_group(pgid)

    async def close(self, reason: str = "the load ended") -> list[EventOutcome]:
        """Stop, wait (bounded) for the cancelled events, record the ones never run."""
        self.stop(reason)
        if self._task is not None:
            done, _ = await asyncio.wait((self._task,), timeout=CANCEL_GRACE_S + 1)
            if not done:
                self._task.cancel()
        for ev in self.events:
            if id(ev) not in self._started:
                self._started.add(id(ev))
                self._record(EventOutcome(ev, None, False, None, 0.0,
                                          f"not run: {self._reason or 'the run ended'} before "
                                          f"its offset {format_duration(ev.at_ns)}"))
        return self.outcomes

    # -- the schedule -------------------------------------------------------------------
    async def _schedule(self) -> None:
        assert self._stop is not None and self.origin_ns is not None
        running: list[asyncio.Future[None]] = []
        for at_ns, group in itertools.groupby(self.events, key=lambda e: e.at_ns):
            await wait_first(self.clock, self.origin_ns + at_ns, self._stop.wait())
            if self._stop.is_set():
                break
            for ev in group:
                self._started.add(id(ev))
                running.append(asyncio.ensure_future(self._one(ev)))
        if running:
            await asyncio.wait(running)

    async def _one(self, ev: PlannedEvent) -> None:
        assert self._stop is not None and self.origin_ns is not None
        start, wall = self.clock.now_ns(), time.time_ns()
        log.info("event %s (%s) starts at %s", ev.name, ev.kind,
                 format_duration(max(0, start - self.origin_ns)))
        tail = Tail()
        self._live.add(tail)
        try:
            await self._await(ev, start, wall, tail)
        except Exception as e:  # noqa: BLE001 - a bug here must not lose the event's row
            log.exception("event %s: could not be run", ev.name)
            self._record(EventOutcome(ev, (start - self.origin_ns) / 1e9, False, None,
                                      (self.clock.now_ns() - start) / 1e9,
                                      tail_text(f"{type(e).__name__}: {e}"), wall))
        finally:
            self._live.discard(tail)

    async def _await(self, ev: PlannedEvent, start: int, wall: int, tail: Tail) -> None:
        assert self._stop is not None and self.origin_ns is not None
        task = asyncio.ensure_future(run_action(ev, self.env, tail, self.insecure))
        await wait_first(self.clock, start + round(ev.timeout_s * 1e9), task, self._stop.wait())
        ok: bool
        status: int | None = None
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is None:
                ok, status, out = task.result()
            else:  # a failure to start at all (no /bin/sh, too many open files...)
                ok, out = False, tail_text(f"{type(exc).__name__}: {exc}")
        else:
            why = (f"timed out after {ev.timeout_s:g} s" if not self._stop.is_set()
                   else f"cancelled: {self._reason}")
            task.cancel()
            done, _ = await asyncio.wait((task,), timeout=CANCEL_GRACE_S)
            if not done:
                why += f"; it ignored the cancellation for {CANCEL_GRACE_S:g} s (abandoned)"
            if ev.kind == "shell":
                why += "; its process group was killed"
            ok = False
            out = tail_text(tail_text(tail.data) + ("\n" if tail.data else "") + f"[{why}]")
        duration = (self.clock.now_ns() - start) / 1e9
        self._record(EventOutcome(ev, (start - self.origin_ns) / 1e9, ok, status, duration,
                                  out, wall))

    def _record(self, outcome: EventOutcome) -> None:
        self.outcomes.append(outcome)
        ev = outcome.event
        if not outcome.ok:
            (log.error if ev.required else log.warning)(
                "event %s (%s)%s failed: %s", ev.name, ev.kind,
                " [required]" if ev.required else "",
                outcome.output_tail.strip().splitlines()[-1] if outcome.output_tail.strip()
                else f"status {outcome.status}")
        if self.on_outcome is not None:
            with contextlib.suppress(Exception):  # an output's failure is its own to report
                self.on_outcome(outcome)
