"""Per-endpoint SLOs: `slo:` budgets per request name, expanded to ordinary thresholds.

A team states its budgets per endpoint (`messages: {p95: 200, p99: 400, error_rate: 0.01}`,
ms) once, in a threshold file or on a Scenario class, instead of spelling each sub-metric
threshold by hand. Each budget becomes a k6 sub-metric threshold
(`http_req_duration{name:messages}: p(95)<200`, `http_req_failed{name:messages}: rate<0.01`),
so it is judged, printed and exported like any other threshold (exit 99 when broken); the
budgets themselves are kept for `loadgen.slo` and the per-endpoint table.

Bad input (not a mapping, an unknown stat, a negative or non-numeric budget, a name that a
selector cannot hold) is a ConfigError listing every problem (exit 104).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from loadgen.errors import ConfigError

#: the budget keys: pNN (any percentile), the other trend stats, and the error rate
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")
_TREND_STATS = ("avg", "med", "max")
ERROR_RATE = "error_rate"
#: characters a k6 selector value cannot carry (they end or split the selector; a `:` is
#: fine: the selector splits a tag at its first one, so URL names work)
_BAD_NAME = re.compile(r"[{},\"'\n]")

Budgets = dict[str, dict[str, float]]


def stat_expression(stat: str) -> str:
    """`p95` -> `p(95)`, `avg` -> `avg`: the threshold method of a budget key."""
    return f"p({stat[1:]})" if _PERCENTILE.match(stat) else stat


def parse_slo(section: Any, where: str) -> Budgets:
    """Validate one `slo` section -> {name: {stat: budget}}; every problem at once."""
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: slo must be a mapping of request name to budgets "
                          f"(e.g. messages: {{p95: 200, p99: 400}}), got "
                          f"{type(section).__name__}")
    problems: list[str] = []
    out: Budgets = {}
    for name, budgets in section.items():
        label = f"{where}: slo.{name}"
        if not isinstance(name, str) or not name.strip() or name != name.strip() or (
                _BAD_NAME.search(name)):
            problems.append(f"{where}: slo: request name {name!r} cannot be selected (a name "
                            "must be non-empty text without { } , quotes or surrounding "
                            "spaces)")
            continue
        if not isinstance(budgets, Mapping) or not budgets:
            problems.append(f"{label}: expected a mapping of stat to budget in ms (p95: 200,"
                            f" p99: 400, error_rate: 0.01), got {budgets!r}")
            continue
        clean: dict[str, float] = {}
        for stat, value in budgets.items():
            stat = str(stat)
            if not (_PERCENTILE.match(stat) or stat in _TREND_STATS or stat == ERROR_RATE):
                problems.append(f"{label}: unknown stat {stat!r} (use pNN such as p95 or "
                                f"p99.9, avg, med, max, or {ERROR_RATE})")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value)):
                problems.append(f"{label}.{stat}: the budget must be a number, got {value!r}")
                continue
            if value < 0:
                problems.append(f"{label}.{stat}: a budget cannot be negative, got {value!r}")
                continue
            if stat == ERROR_RATE and value > 1:
                problems.append(f"{label}.{stat}: an error rate is a fraction from 0 to 1, "
                                f"got {value!r}")
                continue
            if stat.startswith("p") and float(stat[1:]) > 100:
                problems.append(f"{label}: unknown stat {stat!r} (a percentile is 0 to 100)")
                continue
            clean[stat] = float(value)
        out[name] = clean
    if problems:
        raise ConfigError(problems)
    return out


def expand(budgets: Budgets) -> dict[str, list[Any]]:
    """Budgets -> k6 thresholds on the request name's sub-metrics."""
    out: dict[str, list[Any]] = {}
    for name, stats in budgets.items():
        for stat, value in stats.items():
            if stat == ERROR_RATE:
                out.setdefault(f"http_req_failed{{name:{name}}}", []).append(
                    f"rate<{value:g}")
            else:
                out.setdefault(f"http_req_duration{{name:{name}}}", []).append(
                    f"{stat_expression(stat)}<{value:g}")
    return out


def merge_budgets(sources: Iterable[Budgets]) -> Budgets:
    """Several sections (scenarios', then files'): a later budget for the same name and stat
    replaces the earlier one in `loadgen.slo` (both are still judged as thresholds)."""
    out: Budgets = {}
    for src in sources:
        for name, stats in src.items():
            out.setdefault(name, {}).update(stats)
    return out


def class_budgets(cls: Any) -> Budgets:
    """A Scenario class's `slo = {...}` (empty without one)."""
    section = getattr(cls, "slo", None)
    if section is None:
        return {}
    return parse_slo(section, f"scenario {getattr(cls, '__name__', cls)}")
