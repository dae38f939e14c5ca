"""The Scenario base class and loading scenario files.

A scenario file is a Python module; each `Scenario` subclass defined in it is one k6
"scenario": its executor and options are class attributes, its `iteration(vu)` is the body.
One instance is made per VU, so `self` is per-VU state (like a Locust User).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from pathlib import Path
from typing import Any, ClassVar, cast

from loadgen.errors import ConfigError, ScriptError
from loadgen.executors import Executor
from loadgen.net.client import K6_EXPECTED
from loadgen.scripting.metrics import CustomMetric
from loadgen.scripting.vu import VU
from loadgen.slo import class_budgets, expand

SCENARIO_NAME_RE = re.compile(r"^[0-9a-zA-Z_-]+$")


class Scenario:
    """Subclass me: set `executor`, implement `async def iteration(self, vu: VU)`."""

    #: scenario name; default: the class name in snake_case
    name: ClassVar[str | None] = None
    #: when iterations start (one of the six k6 executors); None = k6's default / CLI flags
    executor: ClassVar[Executor | None] = None
    #: k6 thresholds: {"http_req_duration": ["p(95)<300"], ...}
    thresholds: ClassVar[dict[str, list[Any]]] = {}
    #: extra tags on every sample of this scenario
    tags: ClassVar[dict[str, str]] = {}
    #: base URL for relative request URLs; default: the BASE_URL environment variable
    base_url: ClassVar[str | None] = None
    #: used when neither `base_url` nor BASE_URL is set (the catalog points at the demo)
    default_base_url: ClassVar[str | None] = None
    #: statuses counted as expected (not failed); k6's default is 200-399; None disables
    expected_statuses: ClassVar[Any] = K6_EXPECTED
    #: body bytes kept per response, on the wire and decompressed (a bigger one is an error
    #: sample); None: `--max-response-bytes`, whose default is 64 MiB; 0: no cap
    max_response_bytes: ClassVar[int | None] = None
    #: seconds a tracked message may still arrive after the load ends before it is lost
    delivery_grace: ClassVar[float | None] = None
    #: share of a global `--rps` given to this scenario when several run together
    weight: ClassVar[float] = 1.0
    #: things done during the run at an offset from its start: [At("5m", Shell("...")), ...]
    #: (loadgen.events; run once per run, on the coordinator under --workers)
    events: ClassVar[list[Any]] = []
    #: recovery verdicts after fault events: [Recovery(after="kill", within="30s"), ...]
    recovery: ClassVar[list[Any]] = []
    #: per-endpoint budgets in ms by request name, e.g. {"messages": {"p95": 200, "p99": 400,
    #: "error_rate": 0.01}}: expanded to sub-metric thresholds (loadgen/slo.py)
    slo: ClassVar[dict[str, dict[str, float]] | None] = None
    #: start when this scenario (by name) has ended, its graceful stop included; the
    #: executor's start_time is then a delay after that (loadgen/execution/ordering.py)
    start_after: ClassVar[str | None] = None
    #: set on a base class that is only meant to be subclassed (test types do this)
    abstract: ClassVar[bool] = False

    #: what setup() returned (None without setup); set on every instance before it runs
    data: Any = None
    #: this instance's VU (in setup()/teardown() a VU of their own: `self.vu.http.post(...)`)
    #: (None on the class: the runtime sets it on each instance before any method runs)
    vu: VU = cast(VU, None)

    async def iteration(self, vu: VU) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define async def iteration(self, vu)")

    async def setup(self) -> Any:
        """Runs once before the load starts; the return value reaches every VU as `data`."""
        return None

    async def teardown(self, data: Any) -> None:
        """Runs once after the load ends (also after an abort), with setup()'s return value."""

    @classmethod
    def scenario_name(cls) -> str:
        if cls.name:
            return cls.name
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()

    @classmethod
    def effective_thresholds(cls) -> dict[str, list[Any]]:
        """The thresholds this scenario brings (test types add their defaults), with its
        `slo` budgets expanded (ConfigError, exit 104, when they are malformed)."""
        return merge_slo(dict(cls.thresholds or {}), expand(class_budgets(cls)))

    @classmethod
    def has_setup(cls) -> bool:
        return cls.setup is not Scenario.setup

    @classmethod
    def has_teardown(cls) -> bool:
        return cls.teardown is not Scenario.teardown


def merge_slo(thresholds: dict[str, list[Any]], slo: dict[str, list[Any]],
              ) -> dict[str, list[Any]]:
    """Thresholds plus the ones an `slo` expanded to (a key in both keeps both lists)."""
    out = dict(thresholds)
    for key, entries in slo.items():
        out[key] = [*out.get(key, ()), *entries]
    return out


def load_file(path: str | Path) -> tuple[list[type[Scenario]], list[CustomMetric]]:
    """Import a scenario file; return its Scenario classes (in definition order) and the
    custom metrics it declares at module or class level.

    A missing file or a file without scenarios is a config error (104); an exception while
    importing is a script error (107) carrying the traceback.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"scenario file {str(path)!r} does not exist")
    mod_name = f"loadgen_scenario_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, p)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(p.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except (ScriptError, ConfigError):  # a bad data file (loadgen.data) is bad input: 104
        raise
    except BaseException as e:  # noqa: BLE001 - anything in user code, even SystemExit
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = "".join(traceback.format_exception(e))
        raise ScriptError(f"could not load {str(path)!r}: {type(e).__name__}: {e}\n{tb}") from e
    finally:
        sys.path.remove(str(p.parent.resolve()))

    classes = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Scenario) and obj.__module__ == mod_name
        and not obj.__dict__.get("abstract", False)
    ]
    if not classes:
        raise ConfigError(f"{str(path)!r} defines no Scenario subclass (class X(Scenario): ...)")
    metrics: list[CustomMetric] = [v for v in vars(module).values() if isinstance(v, CustomMetric)]
    for cls in classes:
        for klass in cls.__mro__:
            metrics += [v for v in vars(klass).values() if isinstance(v, CustomMetric)]
    seen: set[int] = set()
    unique = [m for m in metrics if not (id(m) in seen or seen.add(id(m)))]  # type: ignore[func-returns-value]
    return classes, unique
