"""Events inside a run (`At`, `Shell`, `HttpCall`, `Call`) and recovery verdicts after a
fault event (`Recovery`): declared by a scenario, run on the coordinator at their offsets
from the load's start, reported in the results (see results.py).

The names are imported when first asked for: a run whose scenarios declare no events imports
`events.wire` only, not the recovery maths and the test types behind it."""

from typing import TYPE_CHECKING

from loadgen.lazy import lazy_dir, lazy_getattr

if TYPE_CHECKING:
    from loadgen.events.model import At, Call, HttpCall, Shell
    from loadgen.events.recovery import Recovery

_LAZY = {
    "At": "loadgen.events.model", "Call": "loadgen.events.model",
    "HttpCall": "loadgen.events.model", "Shell": "loadgen.events.model",
    "Recovery": "loadgen.events.recovery"}
__getattr__ = lazy_getattr(__name__, _LAZY)
__dir__ = lazy_dir(__name__, _LAZY)

__all__ = ["At", "Call", "HttpCall", "Recovery", "Shell"]
