"""loadgen: a native-Python async load generator with k6-compatible results.

Public API only: what a scenario file imports - Scenario, the executors, the test types
(and the Shape their `shape()` returns), custom metrics, payload helpers, events in a run
(At, Shell, HttpCall, Call) and their Recovery verdicts - and `run()` / `run_async()` /
`RunResult` (loadgen.api), the `loadgen run` command from Python. Those three, the events,
the test types, the payload helpers and `data` are imported on first use: a scenario file
importing `loadgen` does not load the CLI, and a plain run does not load what it never uses.
"""

from typing import TYPE_CHECKING

from loadgen.executors import (
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    SharedIterations,
)
from loadgen.lazy import lazy_dir, lazy_getattr
from loadgen.net.types import Response
from loadgen.options import Stage
from loadgen.scripting.metrics import Counter, Gauge, Rate, Trend
from loadgen.scripting.scenario import Scenario
from loadgen.scripting.vu import VU

if TYPE_CHECKING:
    from loadgen import data
    from loadgen.events import At, Call, HttpCall, Recovery, Shell
    from loadgen.messaging.payloads import payload, verify
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

# Imported on first use: `loadgen run` of a scenario using none of them does not pay for the
# events, the test types, the payload helpers nor shared data. The API sits on top of the
# CLI, whose modules import this package's __version__: it is found by name at call time
# rather than imported (an import here would tie the root to the top floor).
_LAZY = {
    "data": "loadgen.data",
    **dict.fromkeys(("At", "Call", "HttpCall", "Recovery", "Shell"), "loadgen.events"),
    **dict.fromkeys(("payload", "verify"), "loadgen.messaging.payloads"),
    **dict.fromkeys(("Baseline", "LargePayload", "Mixed", "Peak", "Shape", "Soak", "Spike",
                     "Stress", "TestType", "Verdict"), "loadgen.testtypes"),
    **dict.fromkeys(("run", "run_async", "RunResult"), "loadgen.api"),
}
__getattr__ = lazy_getattr(__name__, _LAZY)
__dir__ = lazy_dir(__name__, _LAZY)

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
