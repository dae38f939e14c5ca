"""Unit-test scenarios without a server: `MockTransport` answers requests from a function.

httpx's idea: a handler turns each `Request` into a response (sync or async), so a scenario
author can test an iteration's logic - what it requests, how it reacts, what it checks -
in milliseconds, with no socket. `ScenarioProbe` gives a scenario's VU wired to such a
transport and keeps what it recorded:

    from loadgen.testing import MockTransport, ScenarioProbe, reply

    async def test_checkout():
        probe = ScenarioProbe(Checkout, MockTransport(lambda req: reply(200, json={"ok": 1})))
        await probe.iteration()
        assert probe.checks() == {"status is 200": [True]}
        assert probe.transport.requests[0].url == "http://127.0.0.1:8000/api/match/top"

The probe runs the iteration directly, so an exception in it reaches the test (a real run
logs and counts it instead).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from loadgen.clock import Clock, RealClock
from loadgen.execution.runtime import RunContext, ScenarioRuntime
from loadgen.metrics.records import values_of
from loadgen.metrics.registry import Recorder, Registry
from loadgen.net.types import Headers, RawResponse, Request, Timings
from loadgen.scripting.context import current_vu
from loadgen.scripting.scenario import Scenario
from loadgen.scripting.vu import VU

Handler = Callable[[Request], RawResponse | Awaitable[RawResponse]]
_NO_JSON: Any = object()

__all__ = ["Handler", "MockTransport", "ScenarioProbe", "reply"]


def reply(status: int = 200, body: bytes | str = b"", *, json: Any = _NO_JSON,
          headers: Mapping[str, str] | None = None, waiting_ms: float = 0.0,
          proto: str = "HTTP/1.1") -> RawResponse:
    """A response for a handler to return: `json=` encodes the body and sets Content-Type;
    `waiting_ms` is the time to first byte the metrics see."""
    hdrs = dict(headers or {})
    if json is not _NO_JSON:
        body = orjson.dumps(json)
        hdrs.setdefault("Content-Type", "application/json")
    data = body.encode() if isinstance(body, str) else body
    hdrs.setdefault("Content-Length", str(len(data)))
    head = sum(len(k) + len(v) + 4 for k, v in hdrs.items()) + len(proto) + 8
    return RawResponse(status, Headers(list(hdrs.items())), data, proto,
                       Timings(waiting=waiting_ms), "", 0, 0, head + len(data))


class MockTransport:
    """A transport whose responses come from `handler(request)`; it keeps every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    async def send(self, request: Request) -> RawResponse:
        self.requests.append(request)
        got = self.handler(request)
        raw = await got if inspect.isawaitable(got) else got
        if not raw.bytes_sent:  # what the request would have cost on the wire, roughly
            raw = dataclasses.replace(raw, bytes_sent=len(request.method) + len(request.url)
                                      + 12 + sum(len(k) + len(v) + 4 for k, v in request.headers)
                                      + len(request.body or b""))
        return raw

    async def close(self) -> None:
        pass


class ScenarioProbe:
    """One VU of `scenario` whose HTTP goes to `transport`; records are kept in memory."""

    def __init__(self, scenario: type[Scenario], transport: MockTransport, *,
                 base_url: str | None = "http://127.0.0.1:8000", env: dict[str, str] | None = None,
                 clock: Clock | None = None, setup_data: Any = None) -> None:
        self.transport = transport
        self.recorder = Recorder()
        self.run = RunContext(clock or RealClock(), Registry(), self.recorder,
                              lambda: transport, env=dict(env or {}))
        self.runtime = ScenarioRuntime(
            self.run, scenario.scenario_name(), scenario, scenario.executor,
            base_url=scenario.base_url or base_url, tags=dict(scenario.tags),
            expected=scenario.expected_statuses, setup_data=setup_data)
        self.vu: VU = self.runtime.new_vu()

    async def iteration(self) -> None:
        """Run one iteration of the scenario on the probe's VU (exceptions propagate)."""
        vu = self.vu
        vu.iteration += 1
        token = current_vu.set(vu)
        try:
            await vu.instance.iteration(vu)
        finally:
            current_vu.reset(token)

    def samples(self, metric: str) -> list[tuple[float, dict[str, str]]]:
        """(value, tags) of every sample of `metric` recorded so far (HTTP requests give
        `http_reqs` and the `http_req_*` timings, as a run's store expands them)."""
        return [(v, dict(tags)) for _, v, tags in values_of(self.recorder.records, metric)]

    def checks(self) -> dict[str, list[bool]]:
        """Every check by name, with its outcomes in order."""
        out: dict[str, list[bool]] = {}
        for value, tags in self.samples("checks"):
            out.setdefault(tags["check"], []).append(value == 1.0)
        return out
