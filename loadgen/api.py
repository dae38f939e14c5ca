"""`loadgen.run()`: a run from Python, judged exactly as `loadgen run` judges it.

The options are the `loadgen run` command's own (read from its click parameters and cast by
its types), so the API and the CLI cannot drift apart: `rps=50` is `--rps 50`. A few take a
Python shape as well: `thresholds` a mapping (inline, as a Scenario's) or file path(s), `env`
and `tags` mappings, and `base_url` (the BASE_URL variable). An unknown option raises
`OptionError` naming it; anything wrong with the scenarios or thresholds raises the
`ConfigError` (exit code 104) or `ScriptError` (107) that the CLI would print.

Quiet by default: no banner, no progress, no summary on stdout (the text is in
`RunResult.summary_text`); `quiet=False` shows all three as the CLI does. Logged warnings
still go to the `loadgen` logger.

`run()` blocks. Inside a running event loop it runs the test in a thread with its own event
loop (and blocks that loop meanwhile, with a warning); `await run_async(...)` does the same
without blocking. Signal handlers are left alone outside the main thread, and restored after
a run in the main thread, so the caller's Ctrl-C keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from loadgen.errors import ConfigError, ExitCode
from loadgen.results.pipeline import Results
from loadgen.scripting.scenario import Scenario

log = logging.getLogger("loadgen")
#: the API's own names for CLI parameters whose flag is singular or file-shaped
ALIASES = {"thresholds": "threshold_files", "scenario": "scenarios", "stage": "stages",
           "tag": "tags", "out": "outputs", "monitor_pid": "monitor_pids",
           "scrape": "scrape_urls", "ray": "ray_address"}
API_ONLY = {"base_url"}


class OptionError(ConfigError):
    """An option loadgen.run() does not know, or a value of the wrong shape (exit 104)."""


@dataclass
class RunResult:
    """What a run decided and measured."""

    exit_code: int
    #: the handleSummary() data's `metrics` (k6's shape: name -> {type, contains, values})
    metrics: dict[str, Any] = field(default_factory=dict)
    #: threshold key -> [{"expression", "ok", "observed"}] (observed: None if not measured)
    thresholds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the test types' verdicts (scenario, kind, ok, headline, ...), as in the JSON summary
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    #: the files the run wrote (summaries, streams, archive), as given
    files: list[str] = field(default_factory=list)
    summary_text: str = ""
    #: the whole handleSummary() data object
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.exit_code == ExitCode.OK

    def failed_thresholds(self) -> list[str]:
        """`key: expression (observed X)` for every failed threshold, for assertion text."""
        out = []
        for key, rows in self.thresholds.items():
            for r in rows:
                if not r["ok"]:
                    seen = r["observed"]
                    shown = "no samples" if seen is None else f"observed {seen:g}"
                    out.append(f"{key}: {r['expression']} ({shown})")
        return out

    def explain(self) -> str:
        """One paragraph on why the run failed (or 'passed')."""
        if self.passed:
            return "passed"
        lines = [f"loadgen run failed with exit code {self.exit_code}"]
        lines += [f"  threshold {t}" for t in self.failed_thresholds()]
        lines += [f"  verdict {v['scenario']} ({v['kind']}): {v['headline']}"
                  for v in self.verdicts if v.get("ok") is False]
        return "\n".join(lines)


Target = str | Path | type[Scenario] | Sequence[type[Scenario]]


def run(target: Target, **options: Any) -> RunResult:
    """Run `target` (a scenario file, a Scenario class or a list of them) with the
    `loadgen run` options, e.g. `run(Checkout, duration="10s", rps=50)`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(target, options)
    log.warning("loadgen.run() inside a running event loop blocks that loop for the whole "
                "test; `await loadgen.run_async(...)` does not")
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="loadgen") as pool:
        return pool.submit(_run_here, target, options).result()


async def run_async(target: Target, **options: Any) -> RunResult:
    """`run()` for async code: the test runs in a thread with its own event loop."""
    return await asyncio.to_thread(_run_here, target, options)


def _run_here(target: Target, options: dict[str, Any]) -> RunResult:
    with contextlib.ExitStack() as stack:
        kw = cli_kwargs(options, stack)
        return _execute(target, kw)
    raise AssertionError("unreachable")  # pragma: no cover - mypy: ExitStack may swallow


def cli_kwargs(options: Mapping[str, Any], stack: contextlib.ExitStack) -> dict[str, Any]:
    """The keyword arguments the `run` command's function would receive for these options:
    every default, then each option cast by its click type. OptionError lists every unknown
    name and bad value at once."""
    from loadgen.cli import run as run_command

    params = {p.name: p for p in run_command.params if p.name}
    flags = {opt.lstrip("-").replace("-", "_"): p.name for p in run_command.params
             for opt in getattr(p, "opts", ()) if opt.startswith("--") and p.name}
    # the defaults exactly as the command line gets them when no flag is given
    ctx = run_command.make_context("run", ["-"])
    kw: dict[str, Any] = {k: v for k, v in ctx.params.items() if k != "file"}
    kw["quiet"] = True
    problems: list[str] = []
    for key, value in options.items():
        if key in API_ONLY:
            continue
        name = ALIASES.get(key) or flags.get(key) or (key if key in params else None)
        if name is None or name == "file":
            known = sorted({*flags, *ALIASES, *API_ONLY} - {"file"})
            problems.append(f"loadgen.run(): unknown option {key!r} (known: "
                            f"{', '.join(known)})")
            continue
        param = params[name]
        if name == "threshold_files" and isinstance(value, Mapping):
            value = _inline_thresholds(value, stack)
        elif name in ("env", "tags") and isinstance(value, Mapping):
            value = [f"{k}={v}" for k, v in value.items()]
        if param.multiple and (isinstance(value, str | Path) or not isinstance(
                value, Sequence)):
            value = [value]
        try:
            kw[name] = param.type_cast_value(ctx, value)
        except click.BadParameter as e:
            problems.append(f"loadgen.run(): option {key}={value!r}: {e.message}")
    if options.get("base_url") is not None:  # last: it wins over env={"BASE_URL": ...}
        kw["env"] = (*kw["env"], f"BASE_URL={options['base_url']}")
    for key in ("ray_address", "listen", "fleet_token"):
        if key in options or key in {ALIASES.get(k) for k in options}:
            problems.append(f"loadgen.run(): {key} is for the command line (a fleet of "
                            "machines); the API runs local workers=N only")
        kw.pop(key, None)  # LOADGEN_FLEET_TOKEN in the environment is not a request
    kw.pop("join_timeout", None)
    if problems:
        raise OptionError(problems)
    return kw


def _inline_thresholds(raw: Mapping[str, Any], stack: contextlib.ExitStack) -> list[str]:
    """A thresholds mapping, as a threshold file the whole pipeline (archive header, fleet
    workers, `check`) already knows; the file lives until the run is over."""
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="loadgen-api-"))
    path = Path(folder) / "thresholds-option.json"
    try:
        path.write_text(json.dumps(dict(raw), default=str))
    except (TypeError, ValueError) as e:
        raise OptionError(f"loadgen.run(): thresholds must be JSON-like: {e}") from None
    return [str(path)]


def _classes(target: Target) -> list[type[Scenario]] | None:
    """The Scenario classes of a class target (None for a file path)."""
    if isinstance(target, str | Path):
        return None
    items = [target] if isinstance(target, type) else list(target)
    bad = [t for t in items if not (isinstance(t, type) and issubclass(t, Scenario))]
    if bad or not items:
        raise OptionError(f"loadgen.run(): the target must be a scenario file, a Scenario "
                          f"subclass or a list of them, got {target!r}")
    return items


def _execute(target: Target, kw: dict[str, Any]) -> RunResult:
    from loadgen.cli import _after_run
    from loadgen.commands.run import RunConfig, on_main_thread, run_file

    classes = _classes(target)
    kw["file"] = str(target) if classes is None else "python: " + ", ".join(
        f"{c.__module__}.{c.__qualname__}" for c in classes)
    workers = kw.pop("workers", None)
    cfg = RunConfig.from_cli(kw)
    cfg.classes = classes
    cfg.results.after_run = _after_run(kw, None if classes else cfg.file)
    text = io.StringIO()
    if cfg.quiet:
        cfg.results.text_out = text
    kept: list[Results] = []
    saved = ({s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
             if on_main_thread() else {})
    try:
        if workers is not None:
            code = _fleet(cfg, kw, workers, kept.append)
        else:
            code = run_file(cfg, kept.append, raise_early=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return _result(code, kept[0] if kept else None, cfg, text.getvalue())


def _fleet(cfg: Any, kw: dict[str, Any], workers: Any, keep: Callable[[Results], None],
           ) -> int:
    """workers=N: local worker processes, judged as one run by the coordinator."""
    from loadgen.fleet.coordinator import run_fleet

    if cfg.classes:
        raise OptionError("loadgen.run(): workers=... needs a scenario file as the target "
                          "(each worker process loads it)")
    return run_fleet(cfg, kw, str(workers), None, None, keep, raise_early=True)


def _result(code: int, results: Results | None, cfg: Any, text: str) -> RunResult:
    if results is None or results.judgement is None:
        return RunResult(code, files=_files(cfg), summary_text=text)
    summary = results.summary
    data = summary.data if summary is not None else {}
    elapsed = float((data.get("state") or {}).get("testRunDurationMs", 0)) / 1000
    if not text and summary is not None:
        from loadgen.summary.text import render_summary_text
        from loadgen.testtypes.verdict import render_verdicts

        text = render_summary_text(summary, colors=False) + render_verdicts(
            results.judgement.verdicts)
    return RunResult(code, dict(data.get("metrics") or {}),
                     dict(_thresholds(results, elapsed)), _verdicts(data), _files(cfg),
                     text, dict(data))


def _thresholds(results: Results, elapsed_s: float) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each threshold with the value it was judged on (the judge's own sink)."""
    judge = results.judge
    if not judge.enabled:
        return
    for mt in judge.tset.metrics:
        sink = judge.sink(mt.name)
        rows: list[dict[str, Any]] = []
        for spec, ok in zip(mt.specs, mt.last_ok, strict=True):
            seen = None
            if spec.expression.window_ns is not None:  # the breaking (or last) window's
                seen = judge.windows.observed(mt.name, len(rows))
            elif sink is not None and not sink.empty:
                value = sink.aggregate(spec.expression.sink_key, elapsed_s)
                seen = value if value is None or math.isfinite(value) else None
            rows.append({"expression": spec.source, "ok": ok, "observed": seen})
        yield mt.name, rows


def _verdicts(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    verdicts = (data.get("loadgen") or {}).get("verdicts") or {}
    return [{"scenario": name, **v} for name, v in verdicts.items()]


def _files(cfg: Any) -> list[str]:
    """The result files asked for that exist now (a temporary summary is not listed)."""
    r = cfg.results
    paths = [r.summary_export, r.summary_json, r.archive]
    paths += [o.split("=", 1)[1].split("?", 1)[0] for o in r.outputs if "=" in o]
    out = []
    for p in paths:
        if p and Path(p).exists() and "loadgen-api-" not in str(p):
            out.append(str(p))
    return out


__all__ = ["OptionError", "RunResult", "run", "run_async"]
