"""loadgen: a native-Python async load generator with k6-compatible results.

Public API only: scenarios, executors, custom metrics, and `run()` for programmatic use.
"""

from loadgen.executors import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    SharedIterations,
)
from loadgen.kinds import (
    Baseline,
    LargePayload,
    Mixed,
    Peak,
    Soak,
    Spike,
    Stress,
    TestType,
    Verdict,
)
from loadgen.metrics.custom import Counter, Gauge, Rate, Trend
from loadgen.net.types import Response
from loadgen.options import Stage
from loadgen.payloads import payload, verify
from loadgen.scenario import Scenario
from loadgen.vu import VU

__version__ = "0.1.0"

__all__ = [
    "VU",
    "Baseline",
    "Peak",
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
