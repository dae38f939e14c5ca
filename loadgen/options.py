"""k6-shaped option values: durations, stages, and the shortcut flags -> executor mapping.

Pure and synchronous. Validation collects every problem and raises one ConfigError (exit 104)
listing them all, as k6 does, so a user fixes a file in one pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from loadgen.errors import ConfigError

NS = 1_000_000_000
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NS,
          "m": 60 * NS, "h": 3600 * NS}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


# Longer than any run (a year): a 400-digit duration is a typo, and past this the clock's
# deadlines would overflow or round to infinity instead of being refused with a message.
MAX_DURATION_NS = 365 * 24 * 3600 * NS


def _shown(value: Any) -> str:
    """`value` for a message, a 400-digit one cut short so the message stays readable."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:18]}…{text[-18:]} ({len(text) - 2} chars)"


def parse_duration(value: Any, *, what: str = "duration") -> int:
    """A k6 duration ("30s", "1m30s", "250ms", "1h") or a number of seconds -> nanoseconds.

    Raises ValueError with a message naming `what` on anything else ("30x", "-1s", "", nan,
    or more than MAX_DURATION_NS).
    """
    ns = _parse_duration(value, what)
    if ns > MAX_DURATION_NS:
        raise ValueError(f"invalid {what} {_shown(value)}: more than loadgen's ceiling of "
                         f"{format_duration(MAX_DURATION_NS)}")
    return ns


def _parse_duration(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid {what} {value!r}: expected a duration like '30s'")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"invalid {what} {value!r}: must be a finite number of seconds")
        if value < 0:
            raise ValueError(f"invalid {what} {value!r}: must not be negative")
        return _finite_ns(value * NS, value, what)
    if not isinstance(value, str):
        raise ValueError(f"invalid {what} {value!r}: expected a duration like '30s'")
    s = value.strip()
    if s.startswith("-"):
        raise ValueError(f"invalid {what} {value!r}: must not be negative")
    if re.fullmatch(r"\d+(\.\d+)?", s):  # bare number: seconds
        return _finite_ns(float(s) * NS, value, what)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(
            f"invalid {what} {_shown(value)}: expected a number with a unit (ns, us, ms, s, m, "
            "h), e.g. '30s' or '1m30s'"
        )
    return _finite_ns(total, value, what)


def _finite_ns(total: float, value: Any, what: str) -> int:
    """Round to ns; a value too large for a float (400 digits) is refused, not a traceback."""
    if not math.isfinite(total) or total > MAX_DURATION_NS:
        raise ValueError(f"invalid {what} {_shown(value)}: more than loadgen's ceiling of "
                         f"{format_duration(MAX_DURATION_NS)}")
    return round(total)


def format_duration(ns: int) -> str:
    """Nanoseconds -> k6/Go style ("1m30s", "500ms", "2s", "0s")."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000:
        return f"{ns / 1000:g}µs"
    if ns < NS:
        return f"{ns / 1_000_000:g}ms"
    total_s = ns / NS
    h, rem = divmod(total_s, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    out += f"{s:g}s" if s != int(s) else f"{int(s)}s"
    return out


@dataclass(frozen=True)
class Stage:
    """One ramping stage: reach `target` (VUs or iterations per time unit) over `duration`."""

    duration: Any
    target: float

    @property
    def duration_ns(self) -> int:
        return parse_duration(self.duration, what="stage duration")


def parse_stages(raw: Any, problems: list[str], *, where: str) -> list[Stage]:
    """Accept Stage objects, (duration, target) pairs or k6 dicts; report bad ones."""
    stages: list[Stage] = []
    if not isinstance(raw, list | tuple):
        problems.append(f"{where}: stages must be a list of (duration, target)")
        return stages
    for i, st in enumerate(raw):
        if isinstance(st, Stage):
            stage = st
        elif isinstance(st, dict) and "duration" in st and "target" in st:
            stage = Stage(st["duration"], st["target"])
        elif isinstance(st, list | tuple) and len(st) == 2:
            stage = Stage(st[0], st[1])
        else:
            problems.append(f"{where}: stage {i} must have a duration and a target, got {st!r}")
            continue
        try:
            stage.duration_ns  # noqa: B018 - validation by parsing
        except ValueError as e:
            problems.append(f"{where}: stage {i}: {e}")
            continue
        t = stage.target
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) \
                or t < 0:
            problems.append(
                f"{where}: stage {i}: target must be a finite number >= 0, got {t!r}")
            continue
        stages.append(stage)
    if stages and len(stages) == len(raw) and sum(st.duration_ns for st in stages) == 0:
        problems.append(f"{where}: the stages last 0s in total, so nothing would run (give "
                        "at least one stage a duration, e.g. 30s:10)")
    return stages


def parse_cli_stage(text: str) -> Stage:
    """`--stage 30s:10` -> Stage("30s", 10) (k6's DURATION:TARGET shortcut)."""
    dur, sep, target = text.rpartition(":")
    if not sep:
        raise ValueError(f"invalid stage {text!r}: expected DURATION:TARGET, e.g. 30s:10")
    try:
        parse_duration(dur, what="stage duration")
        return Stage(dur, int(target))
    except ValueError as e:
        raise ValueError(f"invalid stage {text!r}: {e}") from None


def parse_key_values(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """`--env A=1 --tag b=2` style lists -> dict; ConfigError on items without '='."""
    out: dict[str, str] = {}
    bad = []
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            bad.append(f"invalid {what} {p!r}: expected KEY=VALUE")
        else:
            out[k] = v
    if bad:
        raise ConfigError(bad)
    return out


# Ceilings for what one run can ask for: far above what a machine can do (one core starts
# ~10,000 iterations/s; an idle VU costs ~5 KB), low enough that a typo such as `--rps 1e12`
# or `--vus 10000000` is refused up front instead of eating the machine's memory.
MAX_RATE = 1_000_000.0
MAX_VUS = 1_000_000
LARGE_RATE = 100_000.0  # above these: allowed, with a warning
LARGE_VUS = 100_000


def check_number(what: str, value: float | None, *, low: float, high: float,
                 low_inclusive: bool = True) -> str | None:
    """A problem with a numeric option (not finite, below `low`, above `high`), or None."""
    if value is None:
        return None
    if not math.isfinite(value):
        return f"{what} must be a finite number, got {value}"
    if value < low or (value == low and not low_inclusive):
        return f"{what} must be {'at least' if low_inclusive else 'more than'} {low:g}, " \
               f"got {value:g}"
    if value > high:
        return f"{what} {value:g} is more than loadgen's ceiling of {high:g}"
    return None
