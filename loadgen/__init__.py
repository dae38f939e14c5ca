"""loadgen: a native-Python async load generator with k6-compatible results.

Public API only: what a scenario file imports - Scenario, the executors, the test types
(and the Shape their `shape()` returns), custom metrics, payload helpers, events in a run
(At, Shell, HttpCall, Call) and their Recovery verdicts. There is no
programmatic `run()`: a file is run by the `loadgen run` command (loadgen.cli).
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
    "payload",
    "verify",
]
