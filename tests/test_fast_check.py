"""vu.check() in C (scripting/_check.c, scripting/fast_check.py) against its Python twin,
VU.py_check: the same checks on two VUs of a real-clock runtime, one through each, and the
same result, samples (metric, value, tags) and logs out of both; a condition that raises,
one that raises what is not an Exception, the call's own tags, another kind of mapping,
a VU in a group, and a VU on a fake clock (the twin's alone)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from loadgen import Scenario
from loadgen.clock import FakeClock, RealClock
from loadgen.execution.runtime import RunContext, ScenarioRuntime
from loadgen.metrics.model import SAMPLE
from loadgen.metrics.registry import Recorder, Registry
from loadgen.scripting import fast_check
from loadgen.scripting.vu import VU
from loadgen.testing import MockTransport

pytestmark = pytest.mark.skipif(fast_check._C is None,
                                reason="the C check was not built (pure-Python install)")


class Stop(BaseException):
    pass


class S(Scenario):
    async def iteration(self, vu: Any) -> None:
        pass


def vu(clock: Any = None) -> VU:
    run = RunContext(clock or RealClock(), Registry(), Recorder(), lambda: MockTransport(print))
    rt = ScenarioRuntime(run, "s", S, None, base_url=None, tags={"t": "1"}, expected=None)
    return rt.new_vu()


def samples(v: VU) -> list[tuple[Any, ...]]:
    out = []
    for r in v.rt.recorder.records:  # type: ignore[attr-defined]
        assert r[0] == SAMPLE and r[1] > 0
        out.append((r[2].name, r[3], dict(r[4])))
    return out


def boom(r: Any) -> bool:
    raise ValueError("no")


def halt(r: Any) -> bool:
    raise Stop()


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((200, {"is 200": lambda r: r == 200, "is odd": lambda r: r % 2}), {}),
    ((201, {"is 200": lambda r: r == 200, "is odd": lambda r: r % 2}), {}),
    ((200, {"raises": boom, "is 200": lambda r: r == 200}), {}),
    ((200, {"raises": boom}), {}),
    ((200, {"tagged": lambda r: True}, {"k": "v"}), {}),
    ((200, {"tagged": lambda r: True}), {"tags": {"k": "w"}}),
    ((200, OrderedDict(ordered=lambda r: r)), {}),
    ((0, {"falsy value": lambda r: r}), {}),
    ((200, {}), {}),
]


def run_calls(v: VU, check: Any) -> list[Any]:
    out = [check(v, *a, **kw) for a, kw in CALLS]
    v.group_path = "::g"
    v.retag()
    out.append(check(v, 200, {"is 200": lambda r: r == 200}))
    return out


def test_c_and_python_agree() -> None:
    c_vu, py_vu = vu(), vu()
    assert c_vu._check_to is not None
    assert type(VU.__dict__["check"]).__name__ == "method_descriptor"
    c_out = run_calls(c_vu, lambda v, *a, **kw: v.check(*a, **kw))
    py_out = run_calls(py_vu, VU.py_check)
    assert c_out == py_out == [False, False, False, False, True, True, True, False, True, True]
    assert samples(c_vu) == samples(py_vu)
    assert c_vu.rt.run._logged == py_vu.rt.run._logged == {"check:raises": 2}
    assert samples(c_vu)[-1] \
        == ("checks", 1.0, {"check": "is 200", "group": "::g", "scenario": "s", "t": "1"})


def test_what_is_not_an_exception_goes_through() -> None:
    for v in (vu(), vu()):
        with pytest.raises(Stop):
            v.check(1, {"ok": lambda r: True, "halt": halt})
        assert samples(v) == [("checks", 1.0, {"check": "ok", "group": "", "scenario": "s",
                                               "t": "1"})]


def test_a_fake_clock_runs_the_twin() -> None:
    clock = FakeClock(start_ns=5)
    v = vu(clock)
    assert v._check_to is None
    assert v.check(1, {"ok": lambda r: True}) is True
    assert v.rt.recorder.records[0][1] == 5  # type: ignore[attr-defined]


def test_bad_calls_fail_as_the_twin_does() -> None:
    v = vu()
    with pytest.raises(TypeError):
        v.check(1)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        v.check(1, [("a", 1)])  # type: ignore[arg-type]
