"""Pluggable test types: each a Scenario base class with its own load shape, default
thresholds and verdict (the answer k6 leaves to the reader). `shape()` returns a Shape: the
executor and the frozen plan the verdict reads back from its RunView (base.py)."""

from loadgen.testtypes.base import Shape, SteadyPlan, TestType
from loadgen.testtypes.delivery import LargePayload, Mixed
from loadgen.testtypes.soak import Soak
from loadgen.testtypes.spike import Spike, SpikePlan
from loadgen.testtypes.steady import Baseline, Peak
from loadgen.testtypes.stress import Stress, StressPlan
from loadgen.testtypes.verdict import Verdict

__all__ = ["Baseline", "LargePayload", "Mixed", "Peak", "Shape", "Soak", "Spike", "SpikePlan",
           "SteadyPlan", "Stress", "StressPlan", "TestType", "Verdict"]
