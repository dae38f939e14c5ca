"""What the resilience plans ask the service itself, as `Call` events of their runs.

Why these exist beside the `Recovery` verdicts: a verdict judges the traffic's own requests
(p95, errors), and some faults never show there. A stopped consumer or a partitioned broker
leaves `POST /v1/messages` answering 202 (messages wait in the outbox or the dead-letter
store), so "recovered" there means the backlog drained, which only the service can say
(/health `pending`, `dlq`); a breaker's open/close transitions are in its /metrics. Each
check polls every 100 ms until the state it wants is seen (the event's `timeout=` bounds
it: the plan's gate), and raises a message naming what was missing, which fails its
`required=True` event (exit 99). They use a client session of their own, so none of this
traffic is in the metrics, and they read the base URL as the scenarios do: BASE_URL, else the
demo's address.

`snapshot` (an event at 0 s) keeps the service's counters before the load, so a check
judges this run's deltas even on a long-lived service.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from common import DEFAULT_BASE_URL

POLL_S = 0.1
REQUEST_TIMEOUT_S = 2.0
BEFORE: dict[str, Any] = {}  # /health and /metrics counters before the load
BREAKER_RE = re.compile(
    r'^storage_circuit_breaker_transitions(?:_total)?\{state="(\w+)"\}\s+([0-9.eE+-]+)\s*$',
    re.M)


def base_url() -> str:
    return (os.environ.get("BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


async def fetch(path: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as s, s.get(base_url() + path) as r:
        return r.status, await r.text()


async def health() -> dict[str, Any]:
    """/health as a dict ({} when it does not answer with a JSON object)."""
    try:
        status, text = await fetch("/health")
        doc = orjson.loads(text) if status == 200 else {}
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


async def breaker_transitions() -> dict[str, float]:
    """The breaker's transitions by the state entered, from /metrics ({} if unreadable)."""
    try:
        status, text = await fetch("/metrics")
    except (aiohttp.ClientError, OSError, TimeoutError):
        return {}
    return {m[1]: float(m[2]) for m in BREAKER_RE.finditer(text)} if status == 200 else {}


async def snapshot() -> str:
    """Keep the counters before the load (an event at 0 s)."""
    BEFORE.clear()
    BEFORE.update(await health())
    BEFORE["breaker"] = await breaker_transitions()
    return "counters kept: " + ", ".join(
        f"{k}={BEFORE.get(k)}" for k in ("reclaimed", "dead_lettered", "replayed"))


def delta(now: dict[str, Any], key: str) -> float:
    return float(now.get(key, 0) or 0) - float(BEFORE.get(key, 0) or 0)


async def wait_for(ok: Callable[[dict[str, Any]], bool], within_s: float,
                   what: str) -> dict[str, Any]:
    """/health, polled until `ok` holds; after `within_s` an error naming `what` and the
    last /health seen."""
    end = time.monotonic() + within_s
    while True:
        doc = await health()
        if doc and ok(doc):
            return doc
        if time.monotonic() >= end:
            raise RuntimeError(f"not {what} within {within_s:g} s; /health: "
                               f"{orjson.dumps(doc).decode()[:300]}")
        await asyncio.sleep(POLL_S)


async def drained(counter: str, backlog: str, state: tuple[str, str], within_s: float) -> str:
    """The backlog (`pending`, `dlq`) is empty and the component back (`state`), and the
    run's `counter` (`reclaimed`, `replayed`) grew: the held messages were really sent on
    (an empty backlog alone is also what dropping them looks like)."""
    key, want = state
    doc = await wait_for(lambda d: d.get(key) == want and d.get(backlog) == 0, within_s,
                         f"{key} {want} with an empty {backlog}")
    moved = delta(doc, counter)
    if moved <= 0:
        raise RuntimeError(f"{backlog} drained but nothing was {counter} during the run: "
                           "the held messages were dropped, not redelivered")
    return f"{backlog} empty, {key} {want}, {counter} {moved:.0f}"


async def dead_lettered() -> str:
    """The partition really sent dispatch writes to the dead-letter store."""
    n = delta(await health(), "dead_lettered")
    if n <= 0:
        raise RuntimeError("nothing was dead-lettered during the partition")
    return f"dead_lettered {n:.0f}"


async def breaker_cycled(within_s: float) -> str:
    """The breaker opened during the run and has closed again since (polled for
    `within_s`)."""
    before = BEFORE.get("breaker", {})
    end = time.monotonic() + within_s
    while True:
        now = await breaker_transitions()
        opened = now.get("open", 0) - before.get("open", 0)
        closed = now.get("closed", 0) - before.get("closed", 0)
        if opened > 0 and closed > 0:
            return f"breaker opened {opened:.0f} and closed {closed:.0f} time(s)"
        if not now:
            raise RuntimeError("no storage_circuit_breaker_transitions in /metrics")
        if time.monotonic() >= end:
            raise RuntimeError(f"the breaker did not open and close within {within_s:g} s: "
                               f"opened {opened:.0f}, closed {closed:.0f} time(s)")
        await asyncio.sleep(POLL_S)
