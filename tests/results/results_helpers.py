"""Shared by the results tests: a Results over a plain scenario, fed by hand."""

from __future__ import annotations

from loadgen import ConstantArrivalRate, ConstantVUs, Scenario
from loadgen.execution.engine import ScenarioSpec
from loadgen.metrics.model import TagSet, tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.config import ResultsConfig
from loadgen.results.pipeline import Results

S = 1_000_000_000


class Plain(Scenario):
    executor = ConstantVUs(vus=1, duration="10s")
    thresholds = {"http_req_duration": ["p(95)<100"]}


class Open(Scenario):
    executor = ConstantArrivalRate(rate=10, duration="10s", pre_allocated_vus=2)


def tags(**kw: str) -> TagSet:
    return tagset({"scenario": "plain", "group": "", **kw})


def make(cfg: ResultsConfig | None = None, specs: list[ScenarioSpec] | None = None,
         now: list[int] | None = None) -> tuple[Results, Registry, Recorder]:
    reg, rec = Registry(), Recorder()
    clock = now if now is not None else [0]
    specs = specs if specs is not None else [ScenarioSpec("plain", Plain, Plain.executor)]
    res = Results(reg, specs, cfg or ResultsConfig(), now_ns=lambda: clock[0])
    res.started(0)
    return res, reg, rec


def request(rec: Recorder, ms: float, t: int = 1, status: str = "200") -> None:
    rec.http(t, tags(status=status, expected_response="true"), ms, 0, 0, 0, 0, ms, 0, 0)
