"""What a scenario declares to happen during its run: `events = [At("5m", Shell("..."))]`.

A fault test needs the fault *inside* the run (kill a consumer at 5 minutes, restart it at
5m30s) so that the load before it is the baseline and the load after it shows the recovery.
These classes only hold what the author wrote: nothing is checked when the scenario file is
imported, so that `plan_events` can list every problem at once (exit 104) instead of the
first one surfacing as a traceback from inside the user's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

DEFAULT_TIMEOUT_S = 30.0
#: how much of an event's output (a shell's stdout+stderr, a response body, an error) is kept
TAIL_BYTES = 2048


class Action:
    """One kind of event. `name=`, `timeout=` and `required=` may be given here or on At."""

    kind: ClassVar[str] = "?"

    def __init__(self, *, name: Any = None, timeout: Any = None, required: Any = None) -> None:
        self.name = name
        self.timeout = timeout
        self.required = required

    def default_name(self) -> str:
        return self.kind


class Shell(Action):
    """A shell command (`/bin/sh -c`), in a process group of its own so that a timeout or a
    Ctrl-C kills it and everything it started. ok = exit status 0."""

    kind = "shell"

    def __init__(self, command: Any, **options: Any) -> None:
        super().__init__(**options)
        self.command = command

    def default_name(self) -> str:
        text = str(self.command).strip()
        return text if len(text) <= 40 else text[:39] + "…"


class HttpCall(Action):
    """One HTTP request on a client session of its own (its traffic is not the scenario's:
    it never reaches the metrics); a relative URL resolves against the scenario's base URL.
    ok = a status in `expect` (default 200-399)."""

    kind = "http"

    def __init__(self, method: Any, url: Any, *, json: Any = None, data: Any = None,
                 headers: Any = None, expect: Any = None, **options: Any) -> None:
        super().__init__(**options)
        self.method = method
        self.url = url
        self.json = json
        self.data = data
        self.headers = headers
        self.expect = expect

    def default_name(self) -> str:
        return f"{str(self.method).upper()} {self.url}"


class Call(Action):
    """An `async def` function of the scenario file, awaited with `args`/`kwargs`.
    ok = it returned; its return value (repr) is the output."""

    kind = "call"

    def __init__(self, fn: Any, *args: Any, name: Any = None, timeout: Any = None,
                 required: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, timeout=timeout, required=required)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def default_name(self) -> str:
        return str(getattr(self.fn, "__name__", "call"))


class At:
    """`At(offset, action)`: run `action` once, `offset` (a k6 duration or seconds) after the
    start of the load. Options given here win over the action's own."""

    def __init__(self, at: Any, action: Any, *, name: Any = None, timeout: Any = None,
                 required: Any = None) -> None:
        self.at = at
        self.action = action
        self.name = name
        self.timeout = timeout
        self.required = required

    def __repr__(self) -> str:
        return f"At({self.at!r}, {type(self.action).__name__})"


@dataclass(frozen=True)
class PlannedEvent:
    """An event checked and resolved for this run."""

    at_ns: int  # after the load's start (T0)
    name: str
    kind: str
    action: Action
    timeout_s: float
    required: bool
    scenario: str  # the scenario that declared it
    url: str | None = None  # an HttpCall's absolute URL


@dataclass
class EventOutcome:
    """What happened: one row of `loadgen.events`."""

    event: PlannedEvent
    started_s: float | None  # after T0, as it really started (None: it never ran)
    ok: bool
    status: int | None  # exit status (negative: killed by that signal) or HTTP status
    duration_s: float
    output_tail: str
    wall_ns: int = 0  # wall-clock start (NDJSON time)

    @property
    def ended_s(self) -> float | None:
        return None if self.started_s is None else self.started_s + self.duration_s

    def to_json(self) -> dict[str, Any]:
        at = self.started_s if self.started_s is not None else self.event.at_ns / 1e9
        return {"at_s": round(at, 3), "name": self.event.name, "kind": self.event.kind,
                "ok": self.ok, "status": self.status, "duration_s": round(self.duration_s, 3),
                "output_tail": self.output_tail, "required": self.event.required}


def tail_text(data: bytes | str, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes of some output, as text (a cut character is replaced)."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    return raw[-limit:].decode("utf-8", "replace")
