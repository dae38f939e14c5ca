"""Pluggable test types: each a Scenario base class with its own load shape, default
thresholds and verdict (the answer k6 leaves to the reader). `shape()` returns a Shape: the
executor and the frozen plan the verdict reads back from its RunView (base.py).

Each name is imported when first asked for: the engine imports `testtypes.base` for every
run, which must not load every test type with it."""

from typing import TYPE_CHECKING

from loadgen.lazy import lazy_dir, lazy_getattr

if TYPE_CHECKING:
    from loadgen.testtypes.base import Shape, SteadyPlan, TestType
    from loadgen.testtypes.delivery import LargePayload, Mixed
    from loadgen.testtypes.soak import Soak
    from loadgen.testtypes.spike import Spike, SpikePlan
    from loadgen.testtypes.steady import Baseline, Peak
    from loadgen.testtypes.stress import Stress, StressPlan
    from loadgen.testtypes.verdict import Verdict

_LAZY = {
    "Shape": "loadgen.testtypes.base", "SteadyPlan": "loadgen.testtypes.base",
    "TestType": "loadgen.testtypes.base", "LargePayload": "loadgen.testtypes.delivery",
    "Mixed": "loadgen.testtypes.delivery", "Soak": "loadgen.testtypes.soak",
    "Spike": "loadgen.testtypes.spike", "SpikePlan": "loadgen.testtypes.spike",
    "Baseline": "loadgen.testtypes.steady", "Peak": "loadgen.testtypes.steady",
    "Stress": "loadgen.testtypes.stress", "StressPlan": "loadgen.testtypes.stress",
    "Verdict": "loadgen.testtypes.verdict"}
__getattr__ = lazy_getattr(__name__, _LAZY)
__dir__ = lazy_dir(__name__, _LAZY)

__all__ = ["Baseline", "LargePayload", "Mixed", "Peak", "Shape", "Soak", "Spike", "SpikePlan",
           "SteadyPlan", "Stress", "StressPlan", "TestType", "Verdict"]
