"""How a run command plugs the events in: plan them (exit 104 on bad input), then hook the
runner to the engine: started at the load's T0, stopped when the load ends, closed (every
outcome recorded) before the results are judged."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loadgen.execution.engine import Hooks, StopRequest
from loadgen.options import format_duration

if TYPE_CHECKING:
    from loadgen.events.results import EventResults

log = logging.getLogger("loadgen")


def attach_events(specs: list[Any], results: Any, clock: Any, registry: Any,
                  env: Mapping[str, str], off: bool = False, notes: list[str] | None = None,
                  insecure: bool = False) -> EventResults | None:
    """The run's events wired into `results` (None: there are none, or --events-off);
    `notes` gets the banner's line about them; `insecure`: --insecure-skip-tls-verify."""
    if not declares_events(specs):
        return None  # what plan_events would find, without importing the events' modules
    from loadgen.events.plan import plan_events
    from loadgen.events.results import EventResults
    from loadgen.events.runner import EventRunner

    plan = plan_events(specs, check_offsets=not off)
    if not plan:
        return None
    if off:
        log.info("--events-off: %d event(s) and %d recovery verdict(s) left out of this run",
                 len(plan.events), len(plan.recoveries))
        return None
    ev = EventResults(plan, EventRunner(plan.events, clock, env, insecure=insecure), results,
                      clock, registry)
    results.addons.append(ev)
    if notes is not None and plan.events:
        shown = ", ".join(f"{e.name} at {format_duration(e.at_ns)}" for e in plan.events[:5])
        more = f", and {len(plan.events) - 5} more" if len(plan.events) > 5 else ""
        notes.append(f"events: {shown}{more}")
    return ev


def declares_events(specs: list[Any]) -> bool:
    """Whether any scenario has `events` or `recovery` other than empty (or missing): a
    non-list is declared too, for plan_events to reject it."""
    return any(not (isinstance(items, list | tuple) and not items)
               for s in specs for attr in ("events", "recovery")
               if (items := getattr(s.cls, attr, None)) is not None)


def with_events(hooks: Hooks, ev: EventResults | None, *, begin_at_exec: bool = True) -> Hooks:
    """`hooks` plus the runner: begun at the executors' T0 (a fleet coordinator begins it
    itself, at the workers' T0), stopped at the load's end; the answer watch sampling and
    the recovery verdicts judged as soon as they can be (on the judge's 2 s tick)."""
    if ev is None:
        return hooks
    runner = ev.runner
    started, tick = hooks.exec_started, hooks.tick

    def exec_started(t0_ns: int) -> None:
        if started is not None:
            started(t0_ns)
        if begin_at_exec:
            runner.begin(t0_ns)

    def ticked(elapsed_s: float) -> StopRequest | None:
        request = tick(elapsed_s) if tick is not None else None
        ev.tick()
        return request

    return dataclasses.replace(hooks, exec_started=exec_started, tick=ticked,
                               load_ended=lambda: runner.stop("the load ended"),
                               background=[*hooks.background, *ev.background()])
