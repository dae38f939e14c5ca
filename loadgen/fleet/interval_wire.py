"""A worker's interval frame, made cheaply: its snapshot goes out once a second and the
worker's event loop waits for nothing else meanwhile.

JSON has no infinity, and orjson (the fleet's encoder, ~10-30x stdlib json here) writes
one as null; an interval can hold some (a scenario's own gauge or counter takes any float;
loadgen's trends keep unserved latencies as a count). They are written as the strings
"inf", "-inf" and "nan" instead, which every reader of an interval already turns back into
floats (`float()`, numpy's float64 conversion), so the coordinator decodes the frame as it
decodes an archive line. Only the
aggregates' scalar fields and the raw-value lists are looked at: that is where floats are.
"""

from __future__ import annotations

import math
from typing import Any

from loadgen.fleet.wire import encode
from loadgen.results.interval import Interval

_NAMES = {math.inf: "inf", -math.inf: "-inf"}


def _finite(v: Any) -> Any:
    if type(v) is float and not math.isfinite(v):
        return _NAMES.get(v, "nan")
    return v


def _values(values: list[float]) -> list[Any]:
    """A raw-value list with non-finite values spelled out (summing finds them at C
    speed; a sum that overflows only costs the element-wise pass)."""
    if math.isfinite(sum(values)):
        return values
    return [_finite(v) for v in values]


def wire_form(iv: Interval) -> dict[str, Any]:
    """`iv.to_json()` with every non-finite float as a string."""
    d = iv.to_json()
    for entries in (d["metrics"], d["series"]):
        for e in entries:
            for k, v in e.items():
                if type(v) is float:
                    e[k] = _finite(v)
                elif k == "values":
                    e[k] = _values(v)
    health = d.get("health") or {}
    for k, v in health.items():
        health[k] = _finite(v)
    return d


def interval_frame(iv: Interval, types: dict[str, Any], status: dict[str, int]) -> bytes:
    """The `interval` message, encoded once with orjson."""
    return encode({"t": "interval", "iv": wire_form(iv), "types": types, "status": status})
