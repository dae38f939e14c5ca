"""loadgen: a native-Python async load generator with k6-compatible results.

Public API only: what a scenario file imports - Scenario, the executors, the test types
(and the Shape their `shape()` returns), custom metrics, payload helpers, events in a run
(At, Shell, HttpCall, Call) and their Recovery verdicts - and `run()` / `run_async()` /
`RunResult` (loadgen.api), the `loadgen run` command from Python. Those three are imported
on first use: a scenario file importing `loadgen` does not load the CLI.
"""

from loadgen import data
from loadgen.events import At, Call, HttpCall, Recovery, Shell
from loadgen.executors import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    SharedIterations,
)
from loadgen.messaging.payloads import payload, verify
from loadgen.net.types import Response
from loadgen.options import Stage
from loadgen.scripting.metrics import Counter, Gauge, Rate, Trend
from loadgen.scripting.scenario import Scenario
from loadgen.scripting.vu import VU
from loadgen.testtypes import (
    Baseline,
    LargePayload,
    Mixed,
    Peak,
    Shape,
    Soak,
    Spike,
    Stress,
    TestType,
    Verdict,
)

__version__ = "0.1.0"
_API = ("run", "run_async", "RunResult")


def __getattr__(name: str) -> object:
    """loadgen.run & co. from loadgen.api, loaded when first asked for: the API sits on top of
    the CLI, whose modules import this package's __version__, so it is found by name at call
    time rather than imported (an import here would tie the root to the top floor)."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module("loadgen.api"), name)
    raise AttributeError(f"module 'loadgen' has no attribute {name!r}")

__all__ = [
    "data",
    "At",
    "Call",
    "HttpCall",
    "Recovery",
    "Shell",
    "VU",
    "Baseline",
    "Peak",
    "Shape",
    "Soak",
    "Spike",
    "Stress",
    "TestType",
    "Verdict",
    "ConstantArrivalRate",
    "ConstantVUs",
    "Counter",
    "Gauge",
    "LargePayload",
    "Mixed",
    "PerVUIterations",
    "RampingArrivalRate",
    "RampingVUs",
    "Rate",
    "Response",
    "Scenario",
    "SharedIterations",
    "Stage",
    "Trend",
    "__version__",
    "run",
    "run_async",
    "RunResult",
    "payload",
    "verify",
]
