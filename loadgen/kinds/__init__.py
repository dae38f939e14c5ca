"""Pluggable test types: each a Scenario base class with its own load shape, default
thresholds and verdict (the answer k6 leaves to the reader)."""

from loadgen.kinds.base import TestType
from loadgen.kinds.delivery import LargePayload, Mixed
from loadgen.kinds.soak import Soak
from loadgen.kinds.spike import Spike
from loadgen.kinds.steady import Baseline, Peak
from loadgen.kinds.stress import Stress
from loadgen.kinds.verdict import Verdict

__all__ = ["Baseline", "LargePayload", "Mixed", "Peak", "Soak", "Spike", "Stress", "TestType",
           "Verdict"]
