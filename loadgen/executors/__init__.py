"""The six k6 executors, one module each, named after k6's type strings."""

from loadgen.executors.base import Executor
from loadgen.executors.constant_arrival_rate import ConstantArrivalRate
from loadgen.executors.constant_vus import ConstantVUs
from loadgen.executors.per_vu_iterations import PerVUIterations
from loadgen.executors.ramping_arrival_rate import RampingArrivalRate
from loadgen.executors.ramping_vus import RampingVUs
from loadgen.executors.shared_iterations import SharedIterations

EXECUTOR_TYPES: dict[str, type[Executor]] = {
    cls.type_name: cls
    for cls in (SharedIterations, PerVUIterations, ConstantVUs, RampingVUs,
                ConstantArrivalRate, RampingArrivalRate)
}

__all__ = ["EXECUTOR_TYPES", "ConstantArrivalRate", "ConstantVUs", "Executor",
           "PerVUIterations", "RampingArrivalRate", "RampingVUs", "SharedIterations"]
