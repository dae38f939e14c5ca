"""The run's configuration as the report shows it: scenarios with their executors (k6's
banner line for each) and the command line's execution options.

`--env` values are left out (they often hold tokens: only their names are shown) and URLs
go through the same redaction as the banner.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from loadgen.net.redact import redact


def run_info(specs: list[Any], script: str | None = None,
             overrides: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    scenarios = []
    for s in specs:
        ex = getattr(s, "executor", None)
        if ex is None:
            continue
        describe = getattr(ex, "describe", None)
        scenarios.append({"name": s.name, "executor": type(ex).__name__,
                          "describe": describe() if callable(describe) else "",
                          "base_url": redact(str(s.base_url)) if s.base_url else None})
    out: dict[str, Any] = {"scenarios": scenarios}
    if script:
        out["script"] = redact(str(script))
    options: dict[str, Any] = {}
    if overrides is not None and dataclasses.is_dataclass(overrides):
        for f in dataclasses.fields(overrides):
            v = getattr(overrides, f.name)
            if f.name == "env":
                v = sorted(v) if v else None
            if v in (None, [], {}, ()) or f.name == "segment":
                continue
            options[f.name] = v if isinstance(v, int | float | str | bool) else str(v)
    options.update({k: v for k, v in (extra or {}).items() if v not in (None, [], {}, ())})
    if options:
        out["options"] = options
    return out


def archive_info(header: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The same description from archive headers (`loadgen report`)."""
    scen = [{"name": str(s.get("name", "")), "executor": str(s.get("executor", "")),
             "describe": str(s.get("test_type") or "")}
            for s in header.get("scenarios") or [] if isinstance(s, dict)]
    script: dict[str, Any] = header["script"] if isinstance(header.get("script"), dict) else {}
    opts: dict[str, Any] = {"archives": [str(p) for p in paths]}
    if header.get("tags"):
        opts["tags"] = header["tags"]
    if header.get("execution_segment"):
        opts["execution_segment"] = header["execution_segment"]
    if header.get("thresholds"):
        opts["thresholds"] = header["thresholds"]
    return {"scenarios": scen, "script": str(script.get("name", "")), "options": opts}
