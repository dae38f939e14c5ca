"""A JSON.stringify(value, null, indent) clone, for the files k6 writes from its JS runtime.

k6's `--summary-export` and handleSummary data are serialised by JavaScript, so numbers follow
ECMAScript formatting (`18`, not `18.0`; `1e+21`; `0.000001`), NaN/Infinity become `null`,
and non-ASCII text is written as-is. orjson/json cannot be told to format numbers that way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from loadgen.numfmt import js_number

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def js_string(s: str) -> str:
    """JSON.stringify of a string (ES2019 well-formed: lone surrogates escaped)."""
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _scalar(value: Any) -> str | None:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return js_number(value)
    if isinstance(value, float):
        return "null" if math.isnan(value) or math.isinf(value) else js_number(value)
    if isinstance(value, str):
        return js_string(value)
    return None


def js_stringify(value: Any, indent: int | None = None) -> str:
    """Serialise dicts (insertion order kept), lists/tuples, str, numbers, bool and None."""
    pad = " " * indent if indent else ""

    def enc(v: Any, level: int) -> str:
        s = _scalar(v)
        if s is not None:
            return s
        if isinstance(v, Mapping):
            items = [(str(k), x) for k, x in v.items()]
            if not items:
                return "{}"
            if not pad:
                return "{" + ",".join(f"{js_string(k)}:{enc(x, 0)}" for k, x in items) + "}"
            inner = pad * (level + 1)
            body = ",\n".join(f"{inner}{js_string(k)}: {enc(x, level + 1)}" for k, x in items)
            return "{\n" + body + "\n" + pad * level + "}"
        if isinstance(v, Sequence) and not isinstance(v, str | bytes):
            if not v:
                return "[]"
            if not pad:
                return "[" + ",".join(enc(x, 0) for x in v) + "]"
            inner = pad * (level + 1)
            body = ",\n".join(f"{inner}{enc(x, level + 1)}" for x in v)
            return "[\n" + body + "\n" + pad * level + "]"
        raise TypeError(f"cannot serialise {type(v).__name__} as JSON")

    return enc(value, 0)
