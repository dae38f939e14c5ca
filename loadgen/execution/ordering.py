"""Scenario ordering: `start_after = "warmup"` starts a scenario when another one ends.

k6 has only `startTime`, an offset from the test's start, so "after the warm-up" means
adding up the warm-up's durations by hand (and a warm-up that ends early leaves a gap). Here
the follower starts when the named scenario's executor has ended - its graceful stop
included - and its own `start_time` is a delay after that. The plan knows only the worst
case (every predecessor running to the end of its graceful stop): that planned offset gives
the banner's timeline and the run's planned duration. In a fleet (or split test) each worker
starts the follower when the predecessor ends on that worker; a worker whose segment gives
the predecessor no work starts the follower at the predecessor's start time (it ended there
as it began), rather than idling until the worst case.
"""

from __future__ import annotations

from collections.abc import Mapping


def after_problems(after: Mapping[str, object], selected: list[str],
                   known: list[str]) -> list[str]:
    """What is wrong with the scenarios' `start_after` values: not a name, an unknown or
    unselected scenario, a cycle (each cycle reported once)."""
    problems: list[str] = []
    for name, target in after.items():
        if target is None:
            continue
        if not isinstance(target, str):
            problems.append(f"scenario {name}: start_after must be a scenario name, got "
                            f"{target!r}")
        elif target not in known:
            problems.append(f"scenario {name}: start_after {target!r} names no scenario "
                            f"(scenarios: {', '.join(known)})")
        elif target not in selected:
            problems.append(f"scenario {name}: start_after {target!r} names a scenario that "
                            "is not in this run (select it with --scenario too)")
    reported: set[str] = set()
    for name in after:
        chain = [name]
        nxt = after.get(name)
        while isinstance(nxt, str) and nxt in after and nxt not in chain:
            chain.append(nxt)
            nxt = after.get(nxt)
        if isinstance(nxt, str) and nxt in chain:
            loop = chain[chain.index(nxt):]
            if not reported.intersection(loop):
                reported.update(loop)
                problems.append("start_after makes a cycle: " + ", ".join(
                    f"{n} starts after {after[n]}" for n in loop))
    return problems


def planned_offsets(after: Mapping[str, str | None], total_ns: Mapping[str, int],
                    ) -> dict[str, int]:
    """Each scenario's worst-case start offset from the executors' T0 caused by ordering
    (0 without `start_after`): its predecessor's offset + start time + duration + graceful
    stop. `after` must be free of cycles and unknown names (after_problems)."""
    out: dict[str, int] = {}
    for name in after:
        chain = [name]  # walked without recursion: a long chain is a list, not a stack
        while (prev := after.get(chain[-1])) is not None and prev not in out:
            chain.append(prev)
        for n in reversed(chain):
            if n not in out:
                prev = after.get(n)
                out[n] = 0 if prev is None else out[prev] + total_ns[prev]
    return out
