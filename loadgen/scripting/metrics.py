"""User-declared metrics: Counter, Gauge, Rate, Trend (k6's k6/metrics), usable anywhere.

Declared at module or class level, they are registered when the scenario file loads (so
thresholds on them validate before the run); `.add()` records through the current VU.
"""

from __future__ import annotations

from loadgen.errors import ScriptError
from loadgen.metrics.model import NAME_RE, Contains, MetricType
from loadgen.scripting.context import current_vu


class CustomMetric:
    type: MetricType = MetricType.COUNTER

    def __init__(self, name: str, is_time: bool = False, *, contains: str | None = None) -> None:
        if not NAME_RE.match(name):
            raise ScriptError(
                f'Invalid metric name: "{name}" (letters, digits and _, 2 to 129 characters, '
                "not starting with a digit)")
        self.name = name
        if contains is not None:
            self.contains = Contains(contains)
        else:
            self.contains = Contains.TIME if is_time else Contains.DEFAULT

    def add(self, value: float | bool, tags: dict[str, str] | None = None) -> None:
        vu = current_vu.get()
        if vu is None:
            raise ScriptError(f"metric {self.name!r}: add() called outside a running iteration, "
                              "setup or teardown")
        vu.add_metric(self, float(value), tags)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Counter(CustomMetric):
    """A running sum (k6 Counter)."""

    type = MetricType.COUNTER


class Gauge(CustomMetric):
    """The last value, with min and max (k6 Gauge)."""

    type = MetricType.GAUGE


class Rate(CustomMetric):
    """The share of non-zero values (k6 Rate)."""

    type = MetricType.RATE


class Trend(CustomMetric):
    """A distribution: avg/min/med/max/percentiles (k6 Trend; `Trend(name, True)` is time)."""

    type = MetricType.TREND
