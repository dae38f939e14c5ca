"""Events inside a run (`At`, `Shell`, `HttpCall`, `Call`) and recovery verdicts after a
fault event (`Recovery`): declared by a scenario, run on the coordinator at their offsets
from the load's start, reported in the results (see results.py)."""

from loadgen.events.model import At, Call, HttpCall, Shell
from loadgen.events.recovery import Recovery

__all__ = ["At", "Call", "HttpCall", "Recovery", "Shell"]
