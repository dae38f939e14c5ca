"""Value formatting, text width and name ordering of k6's text summary (internal/js/summary.js).

The end-of-test summary is produced by JavaScript in k6, so its numbers go through
`toFixed` (ties away from zero), `Math.trunc` and Number-to-string, and metric names are
ordered with `localeCompare` (Unicode collation, not code points: `_` sorts before digits,
`a` before `A`). Reproducing those primitives is what makes the output byte-identical.
"""

from __future__ import annotations

import math
import unicodedata

from loadgen.numfmt import (
    js_fixed_no_trailing_zeros,
    js_number,
    js_to_fixed,
    js_trunc,
)

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_TIME_UNITS = {"s": ("s", 0.001), "ms": ("ms", 1.0), "us": ("µs", 1000.0)}
NAN = float("nan")


def _num(v: float | int | None) -> float:
    return NAN if v is None else float(v)


def _fmod(a: float, b: float) -> float:
    """JS `%` (NaN instead of Python's ValueError for infinities)."""
    return math.fmod(a, b) if math.isfinite(a) else NAN


def humanize_bytes(b: float) -> str:
    if b < 10:
        return js_number(b) + " B"
    if not math.isfinite(b):
        return "NaN B"
    e = math.floor(math.log(b) / math.log(1000))
    suffix = _UNITS[int(e)] if 0 <= e < len(_UNITS) else "undefined"
    val = math.floor((b / math.pow(1000, e)) * 10 + 0.5) / 10
    return js_to_fixed(val, 1 if val < 10 else 0) + " " + suffix


def _trunc_no_zeros(v: float, prec: int) -> str:
    mult = math.pow(10, prec)
    return js_fixed_no_trailing_zeros(js_trunc(mult * v) / mult, prec)


def humanize_generic_duration(ms: float) -> str:
    """ns / µs / ms / s / XmYs / XhYmZs with truncated decimals."""
    if ms == 0:
        return "0s"
    if ms < 0.001:
        return js_number(js_trunc(ms * 1_000_000)) + "ns"
    if ms < 1:
        return _trunc_no_zeros(ms * 1000, 2) + "µs"
    if ms < 1000:
        return _trunc_no_zeros(ms, 2) + "ms"
    fixed = _trunc_no_zeros(_fmod(ms, 60000) / 1000, 0 if ms > 60000 else 2) + "s"
    rem = js_trunc(ms / 60000)
    if rem < 1:
        return fixed
    fixed = js_number(_fmod(rem, 60)) + "m" + fixed
    rem = js_trunc(rem / 60)
    if rem < 1:
        return fixed
    return js_number(rem) + "h" + fixed


def humanize_duration(ms: float, time_unit: str | None) -> str:
    if time_unit and time_unit in _TIME_UNITS:
        unit, coef = _TIME_UNITS[time_unit]
        return js_to_fixed(ms * coef, 2) + unit
    return humanize_generic_duration(ms)


def humanize_value(v: float | int | None, mtype: str, contains: str, time_unit: str | None) -> str:
    """k6 humanizeValue: rates as truncated percentages, data as kB/MB, time as durations."""
    x = _num(v)
    if mtype == "rate":
        return js_to_fixed(js_trunc(x * 100 * 100) / 100, 2) + "%"
    if contains == "data":
        return humanize_bytes(x)
    if contains == "time":
        return humanize_duration(x, time_unit)
    return js_fixed_no_trailing_zeros(x, 6)


def js_str(v: float | int | None) -> str:
    """`'' + v` for a number that may be missing (JS `undefined`)."""
    return "undefined" if v is None else js_number(v)


def str_width(s: str) -> int:
    """k6 strWidth: code points after NFKC, ANSI escape sequences excluded."""
    width = 0
    in_esc = in_long = False
    for ch in unicodedata.normalize("NFKC", s):
        code = ord(ch)
        if ch == "\x1b":
            in_esc = True
            continue
        if in_esc and ch == "[":
            in_long = True
            continue
        if in_esc and in_long and 0x40 <= code <= 0x7E:
            in_esc = in_long = False
            continue
        if in_esc and not in_long and 0x40 <= code <= 0x5F:
            in_esc = False
            continue
        if not in_esc and not in_long:
            width += 1
    return width


# CLDR root collation order of ASCII punctuation and symbols (checked with k6's runtime).
_PUNCT = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"


def collation_key(s: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], tuple[int, ...]]:
    """An approximation of `localeCompare` (root collation) as a sort key.

    Exact for ASCII; other characters: accented Latin letters sort with their base letter
    (secondary difference), anything else after all letters by code point.
    """
    primary: list[tuple[int, int]] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for ch in s:
        base, accent = ch, 0
        if ord(ch) > 0x7F:
            decomposed = unicodedata.normalize("NFD", ch)
            if decomposed and ord(decomposed[0]) <= 0x7F and decomposed[0].isalpha():
                base, accent = decomposed[0], 1
        if base in _PUNCT:
            primary.append((0, _PUNCT.index(base)))
        elif "0" <= base <= "9":
            primary.append((1, ord(base)))
        elif base.isascii() and base.isalpha():
            primary.append((2, ord(base.lower())))
        elif ord(base) < 0x20:
            primary.append((-1, ord(base)))
        else:
            primary.append((3, ord(base)))
        secondary.append(accent)
        tertiary.append(1 if base.isupper() else 0)
    return tuple(primary), tuple(secondary), tuple(tertiary)


def sort_metric_names(names: list[str]) -> list[str]:
    """k6 sortMetricsByName: by parent name, then by the `{...}` suffix, both localeCompare."""

    def key(name: str) -> tuple[object, object]:
        i = name.find("{")
        parent, sub = (name, "") if i < 0 else (name[:i], name[i:])
        return collation_key(parent), collation_key(sub)

    return sorted(names, key=key)
