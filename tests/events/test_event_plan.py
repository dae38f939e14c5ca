"""The planner refuses bad event and recovery declarations with every problem at once
(ConfigError: exit 104), before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen import At, Baseline, Call, ConstantVUs, HttpCall, Recovery, Scenario, Shell
from loadgen.errors import ConfigError
from loadgen.events.plan import plan_events
from loadgen.execution.engine import ScenarioSpec
from loadgen.execution.plan import Overrides, build_plan


async def poke() -> None:
    return None


def plain() -> None:
    return None


def specs(events: list[Any], recovery: list[Any] | None = None, duration: str = "10s",
          base_url: str | None = "http://127.0.0.1:9") -> list[ScenarioSpec]:
    class S(Scenario):
        pass

    S.events = events
    S.recovery = recovery or []
    ex = ConstantVUs(vus=1, duration=duration)
    return [ScenarioSpec("s", S, ex, base_url=base_url)]


def problems(*args: Any, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as e:
        plan_events(specs(*args, **kw))
    return e.value.problems


def test_a_good_plan_resolves_names_urls_and_options() -> None:
    plan = plan_events(specs([At("2s", HttpCall("POST", "/admin/faults", json={"a": 1})),
                              At("1s", Shell("true"), name="kill", timeout="5s", required=True),
                              At(3, Call(poke))],
                             [Recovery(after="kill", until="POST /admin/faults")]))
    assert [e.name for e in plan.events] == ["kill", "POST /admin/faults", "poke"]
    kill, http, call = plan.events
    assert (kill.at_ns, kill.timeout_s, kill.required) == (1_000_000_000, 5.0, True)
    assert http.url == "http://127.0.0.1:9/admin/faults" and http.timeout_s == 30.0
    assert call.at_ns == 3_000_000_000 and not call.required
    assert plan.recoveries[0].scenario == "s"


def test_an_offset_beyond_the_planned_length_is_refused() -> None:
    # planned length: 10 s (the graceful stop is not the run's length)
    msgs = problems([At("10.5s", Shell("true")), At("10s", Shell("true"))])
    assert msgs == ["scenario s: event At('10.5s', Shell): offset 10.5s is beyond the run's "
                    "planned length of 10s: it would never run"]
    # --events-off does not run them, so a scaled-down baseline need not reach them
    assert plan_events(specs([At("41s", Shell("true"))]), check_offsets=False).events


def test_every_problem_is_listed_at_once() -> None:
    msgs = problems([At("1x", Shell("true")), At("1s", object()), At("1s", Call(plain)),
                     At("1s", Shell("")), "not an event",
                     At("1s", Shell("true"), timeout="-1s", required="yes")])
    text = "\n".join(msgs)
    assert "event offset" in text
    assert "unknown event kind object" in text
    assert "async def" in text and "would not be awaited" in text
    assert "Shell needs a command" in text
    assert "is not At(offset" in text
    assert "event timeout" in text and "required must be True or False" in text
    assert len(msgs) == 7


def test_http_calls_need_a_base_url_for_a_relative_url() -> None:
    msgs = problems([At("1s", HttpCall("POST", "/x"))], base_url=None)
    assert "relative URL '/x' but the scenario has no base URL" in msgs[0]
    msgs = problems([At("1s", HttpCall("P O", "ftp://127.0.0.1/x", json={}, data="a",
                                       expect="200"))])
    assert any("method" in m for m in msgs) and any("not an http(s) URL" in m for m in msgs)
    assert any("not both" in m for m in msgs) and any("expect" in m for m in msgs)


def test_recovery_declarations_are_checked() -> None:
    msgs = problems([At("1s", Shell("true"), name="kill"), At("2s", Shell("true")),
                     At("3s", Shell("true"))],
                    [Recovery(after="nope"), Recovery(after="kill", until="true"),
                     Recovery(after="kill", within="soon", tolerance=-1, stable=0,
                              gate=["recovery_s < 30", "p95<3"]),
                     Recovery(after="kill", scenario="other")])
    text = "\n".join(msgs)
    assert "'nope', which is not among the run's events" in text
    assert "'true', which names more than one event" in text
    assert "invalid within" in text and "tolerance" in text and "stable" in text
    assert "gate 'p95<3'" in text and "gate 'recovery_s < 30'" not in text
    assert "measures scenario 'other'" in text


def test_two_events_with_one_explicit_name_are_refused() -> None:
    msgs = problems([At("1s", Shell("true"), name="x"), At("2s", Call(poke), name="x")])
    assert msgs == ["two events are named 'x': names must be unique"]


def test_a_shared_base_list_is_planned_once() -> None:
    shared = [At("1s", Shell("true"), name="once")]
    a, b = specs(shared)[0], specs(shared)[0]
    b.name = "t"
    assert [e.name for e in plan_events([a, b]).events] == ["once"]


def test_a_test_type_declares_events_against_its_own_shape() -> None:
    class Steady(Baseline):
        vus, duration = 2, "20s"
        events = [At("15s", Shell("true"), name="kill")]
        recovery = [Recovery(after="kill")]

    (spec,) = build_plan([Steady], Overrides())
    plan = plan_events([spec])
    assert [e.name for e in plan.events] == ["kill"] and plan.recoveries[0].scenario == "steady"
    # --duration scales the test type's shape, not the events
    with pytest.raises(ConfigError, match="offset 15s is beyond the run's planned length of 5s"):
        plan_events(build_plan([Steady], Overrides(duration="5s")))


@pytest.mark.parametrize(("events", "recovery", "wired"), [
    ([], [], False), ((), None, False),
    ([At("1s", Call(poke))], [], True), ([], [Recovery(after="x")], True),
])
def test_attach_events_skips_the_planner_only_when_nothing_is_declared(
        events: Any, recovery: Any, wired: bool) -> None:
    """attach_events answers "no events" without importing the planner; a scenario that
    declares any (or declares them wrongly) still goes through it."""
    from loadgen.events.wire import attach_events, declares_events

    declared = specs(events, recovery)
    assert declares_events(declared) is wired
    if not wired:
        assert attach_events(declared, None, None, None, {}) is None


def test_a_declaration_that_is_not_a_list_still_reaches_the_planner() -> None:
    from loadgen.events.wire import attach_events

    declared = specs([])
    declared[0].cls.events = "At('1s', ...)"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="scenario s: events must be a list of At"):
        attach_events(declared, None, None, None, {})
