"""Number formatting the way k6's two runtimes do it: JavaScript (summaries) and Go (NDJSON).

Python's `repr`/`json.dumps` agree with neither (`1.0`, `1000000.0`, `1e-05`), so every k6
output format routes its numbers through here. Both runtimes start from the same shortest
round-trip digits (Python's `repr` digits); they differ only in where they switch to exponent
form and how they spell it (k6-compat.md §1 and §6, `floatfmt_*` goldens).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite x > 0 and the decimal point position n.

    x == 0.d1d2...dk * 10**n, digits without trailing zeros (ECMAScript's k and n).
    """
    _, digits, exp = Decimal(repr(x)).as_tuple()
    assert isinstance(exp, int)
    raw = "".join(map(str, digits))
    ds = raw.rstrip("0")
    # value = int(raw) * 10**exp = 0.ds * 10**n
    return ds, exp + len(raw)


def js_number(x: float | int) -> str:
    """ECMAScript Number::toString (what JSON.stringify and `'' + x` produce)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        if abs(x) <= 2**53:
            return str(x)
        x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    ds, n = shortest_digits(x)
    k = len(ds)
    if k <= n <= 21:
        return ds + "0" * (n - k)
    if 0 < n <= 21:
        return ds[:n] + "." + ds[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + ds
    e = n - 1
    mant = ds if k == 1 else ds[0] + "." + ds[1:]
    return f"{mant}e{'+' if e >= 0 else '-'}{abs(e)}"


def js_to_fixed(x: float, digits: int) -> str:
    """ECMAScript Number.prototype.toFixed: exact binary value, ties away from zero."""
    if math.isnan(x):
        return "NaN"
    if abs(x) >= 1e21 or math.isinf(x):
        return js_number(x)
    if x == 0:
        x = 0.0  # toFixed(-0) is "0.00", not "-0.00"
    q = Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return format(q, "f")


def js_fixed_no_trailing_zeros(x: float, digits: int) -> str:
    """k6 summary.js toFixedNoTrailingZeros: parseFloat(x.toFixed(p)).toString()."""
    s = js_to_fixed(x, digits)
    try:
        return js_number(float(s))
    except ValueError:
        return s


def js_trunc(x: float) -> float:
    """Math.trunc (keeps NaN/inf)."""
    if math.isnan(x) or math.isinf(x):
        return x
    return float(math.trunc(x))


def go_float(x: float | int) -> str:
    """Go strconv.FormatFloat(x, 'g', -1, 64), as easyjson writes NDJSON values.

    Exponent form when the decimal exponent is < -4 or >= 6 (shortest 'g' uses precision 6
    for that decision), exponent signed with at least two digits: 1e+06, 1.5e-07, 123.456.
    """
    if isinstance(x, bool):
        x = int(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    if x < 0:
        return "-" + go_float(-x)
    ds, n = shortest_digits(x)
    exp = n - 1
    if exp < -4 or exp >= 6:
        mant = ds if len(ds) == 1 else ds[0] + "." + ds[1:]
        return f"{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if n <= 0:
        return "0." + "0" * (-n) + ds
    if n >= len(ds):
        return ds + "0" * (n - len(ds))
    return ds[:n] + "." + ds[n:]
