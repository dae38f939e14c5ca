"""From the scenarios' `events` and `recovery` declarations to a checked plan.

Every problem is collected and raised at once (exit 104), never a traceback: an offset
beyond the run's planned length (the event would never run), an unknown kind, a Call of a
plain function (it would not be awaited), a relative URL with no base URL, a Recovery that
names an event that is not there.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from loadgen.errors import ConfigError
from loadgen.events.model import DEFAULT_TIMEOUT_S, Action, At, Call, HttpCall, PlannedEvent, Shell
from loadgen.events.recovery import Recovery, RecoveryPlan
from loadgen.options import format_duration, parse_duration


@dataclass(frozen=True)
class EventPlan:
    events: list[PlannedEvent]
    recoveries: list[RecoveryPlan]

    def __bool__(self) -> bool:
        return bool(self.events or self.recoveries)


def planned_length_ns(specs: Sequence[Any]) -> int:
    """The run's planned length after T0: the end of its longest scenario. The graceful stop
    is left out: the load usually ends as the duration does, and an event planned inside the
    stop would then be recorded as not run."""
    return max((s.executor.start_time_ns + s.executor.duration_ns() for s in specs), default=0)


def _option(ev: At, name: str) -> Any:
    own = getattr(ev, name)
    return own if own is not None else getattr(ev.action, name, None)


def _declared(specs: Sequence[Any], attr: str) -> list[tuple[str, Any]]:
    """(scenario, item) for every item of every scenario's `attr` list, each object once
    (two scenarios sharing a base class share its list)."""
    seen: set[int] = set()
    out: list[tuple[str, Any]] = []
    for s in specs:
        items = getattr(s.cls, attr, None)
        if items is None:
            continue
        if not isinstance(items, list | tuple):
            out.append((s.name, _NotAList(items)))
            continue
        for item in items:
            if id(item) not in seen:
                seen.add(id(item))
                out.append((s.name, item))
    return out


@dataclass(frozen=True)
class _NotAList:
    value: Any


def _event(scen: str, ev: Any, base_urls: dict[str, str | None], length_ns: int | None,
           problems: list[str]) -> PlannedEvent | None:
    where = f"scenario {scen}: event {ev!r}"
    if isinstance(ev, _NotAList):
        problems.append(f"scenario {scen}: events must be a list of At(offset, action), got "
                        f"{type(ev.value).__name__}")
        return None
    if not isinstance(ev, At):
        problems.append(f"{where} is not At(offset, Shell(...) | HttpCall(...) | Call(...))")
        return None
    n = len(problems)
    try:
        at_ns = parse_duration(ev.at, what="event offset")
    except ValueError as e:
        problems.append(f"{where}: {e}")
        at_ns = 0
    if length_ns is not None and at_ns > length_ns:
        problems.append(f"{where}: offset {format_duration(at_ns)} is beyond the run's planned "
                        f"length of {format_duration(length_ns)}: it would never run")
    action = ev.action
    if not isinstance(action, Shell | HttpCall | Call):
        problems.append(f"{where}: unknown event kind {type(action).__name__} (use Shell, "
                        "HttpCall or Call)")
        return None
    timeout = _option(ev, "timeout")
    timeout_s = DEFAULT_TIMEOUT_S
    if timeout is not None:
        try:
            timeout_s = parse_duration(timeout, what="event timeout") / 1e9
        except ValueError as e:
            problems.append(f"{where}: {e}")
        else:
            if timeout_s <= 0:
                problems.append(f"{where}: timeout must be more than 0")
    required = _option(ev, "required")
    if required is not None and not isinstance(required, bool):
        problems.append(f"{where}: required must be True or False, got {required!r}")
    name = _option(ev, "name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"{where}: name must be a non-empty string, got {name!r}")
    url = _action_problems(where, action, base_urls.get(scen), problems)
    if len(problems) > n:
        return None
    return PlannedEvent(at_ns, name or action.default_name(), action.kind, action, timeout_s,
                        bool(required), scen, url)


def _action_problems(where: str, action: Action, base_url: str | None,
                     problems: list[str]) -> str | None:
    """The kind's own checks; an HttpCall's absolute URL."""
    if isinstance(action, Shell):
        if not isinstance(action.command, str) or not action.command.strip():
            problems.append(f"{where}: Shell needs a command string, got {action.command!r}")
        return None
    if isinstance(action, Call):
        if not inspect.iscoroutinefunction(action.fn):
            problems.append(f"{where}: Call needs an `async def` function, got "
                            f"{action.fn!r} (a plain function would not be awaited)")
        return None
    assert isinstance(action, HttpCall)
    if not isinstance(action.method, str) or not action.method.isalpha():
        problems.append(f"{where}: HttpCall method must be a word like 'POST', got "
                        f"{action.method!r}")
    if not isinstance(action.url, str) or not action.url:
        problems.append(f"{where}: HttpCall needs a URL string, got {action.url!r}")
        return None
    url = action.url
    if not urlsplit(url).scheme:
        if not base_url:
            problems.append(f"{where}: relative URL {url!r} but the scenario has no base URL "
                            "(set BASE_URL or the scenario's base_url)")
            return None
        url = urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        problems.append(f"{where}: HttpCall URL {url!r} is not an http(s) URL")
    if action.json is not None and action.data is not None:
        problems.append(f"{where}: HttpCall takes json= or data=, not both")
    if action.headers is not None and not isinstance(action.headers, dict):
        problems.append(f"{where}: HttpCall headers must be a dict")
    expect = action.expect
    if expect is not None and not (isinstance(expect, int) or (
            isinstance(expect, list | tuple) and all(isinstance(x, int) for x in expect))):
        problems.append(f"{where}: HttpCall expect must be a status or a list of statuses")
    return url


def plan_events(specs: Sequence[Any], *, check_offsets: bool = True) -> EventPlan:
    """Every event and recovery verdict of these scenarios, checked (ConfigError lists all
    problems). `check_offsets=False` (--events-off) still checks what the events are, but
    not that a scaled-down run would reach them."""
    problems: list[str] = []
    length = planned_length_ns(specs) if check_offsets else None
    bases = {s.name: s.base_url for s in specs}
    events = [e for scen, ev in _declared(specs, "events")
              if (e := _event(scen, ev, bases, length, problems)) is not None]
    names: dict[str, int] = {}
    for e in events:
        names[e.name] = names.get(e.name, 0) + 1
    explicit = [e.name for e in events if _is_explicit(e)]
    for dup in sorted({n for n in explicit if names[n] > 1}):
        problems.append(f"two events are named {dup!r}: names must be unique")
    scenarios = {s.name for s in specs}
    recoveries: list[RecoveryPlan] = []
    for scen, rec in _declared(specs, "recovery"):
        if isinstance(rec, _NotAList) or not isinstance(rec, Recovery):
            problems.append(f"scenario {scen}: recovery must be a list of Recovery(after=...), "
                            f"got {getattr(rec, 'value', rec)!r}")
            continue
        plan = rec.checked(scen, problems)
        if plan is None:
            continue
        for ref in (plan.after, plan.until):
            if ref is not None and names.get(ref) != 1:
                problems.append(
                    f"scenario {scen}: Recovery refers to event {ref!r}, which "
                    + ("is not among the run's events" if ref not in names
                       else "names more than one event (give them name=)")
                    + f"; events: {', '.join(sorted(names)) or 'none'}")
        if plan.scenario not in scenarios:
            problems.append(f"scenario {scen}: Recovery measures scenario {plan.scenario!r}, "
                            f"which is not in this run ({', '.join(sorted(scenarios))})")
        recoveries.append(plan)
    if problems:
        raise ConfigError(problems)
    return EventPlan(sorted(events, key=lambda e: e.at_ns), recoveries)


def _is_explicit(e: PlannedEvent) -> bool:
    return e.name != e.action.default_name()
