"""The results archive of one run (`loadgen run --archive FILE`), written as the run goes and
read back by `loadgen merge`.

Plain NDJSON, one JSON object per line, each written whole with one write() so that a run
killed at any moment (kill -9 included) leaves a readable file whose last line is complete:

    {"kind": "header", "format": "loadgen-archive", "version": 1, "loadgen": "0.1.0",
     "script": {"name", "sha256"}, "scenarios": [{"name", "class", "test_type", "executor"}],
     "thresholds": {...as declared, scenarios' and files' merged...}, "metrics": [{"name",
     "type", "contains", "unit_exp"}], "tags": {...}, "execution_segment": "0:1/2" | null,
     "start": {"unix_ns", "iso"}, "interval_s": 1, "hdr": {"lowest": 1,
     "significant_figures": 3, "series_sub_bits": 6}}
    {"kind": "interval", "declare": [...metrics first seen...], ...Interval.to_json()}
        (trend histograms: HdrHistogram V2 base64; the time series' small histograms: base64
        of zlib-compressed little-endian arrays, `idx` uint16 and `cnt` int64)
    ... one per second ...
    {"kind": "end", "duration_ns", "exit_code", "reason", "results"?}  (absent after kill -9)
        (`results`, optional: the events, recovery verdicts and slowest requests the run
        judged at its end, see archive_trailer.py; an archive without it still reads)

A missing end line means the run was killed: its intervals are still merged, and the merge
says so. Non-finite floats are written as Python's json writes them (NaN, Infinity).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen import __version__
from loadgen import thresholds as th
from loadgen.errors import ConfigError, ExitCode
from loadgen.metrics.histogram import SIG_FIGS
from loadgen.metrics.model import Contains, MetricType
from loadgen.metrics.registry import Registry
from loadgen.results.archive_trailer import trailer_problem
from loadgen.results.interval import SUB_BITS, UNIT_EXP, Interval, IntervalError

FORMAT, VERSION = "loadgen-archive", 1
MAX_LINE = 256 * 2**20  # one interval line; a longer one is not an archive loadgen wrote
Types = dict[str, tuple[MetricType, Contains]]
_EXIT_CODES = {v for k, v in vars(ExitCode).items() if k.isupper()}


class ArchiveError(ConfigError):
    """An archive that cannot be merged (exit 104, the message names the file and line)."""

    def render(self) -> str:
        lines = "\n".join(f"\t- {p}" for p in self.problems)
        return f"These archives cannot be merged:\n{lines}"


def declaration(registry: Registry, name: str) -> dict[str, Any]:
    m = registry[name]
    d: dict[str, Any] = {"name": name, "type": m.type.value, "contains": m.contains.value}
    if m.type is MetricType.TREND:
        d["unit_exp"] = UNIT_EXP[m.contains]
    return d


def script_identity(path: str) -> dict[str, Any]:
    """What makes two archives "the same test": the scenario file's name and content hash."""
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:  # `loadgen http` has no file: its description is its identity
        digest = hashlib.sha256(path.encode()).hexdigest()
    return {"name": Path(path).name, "sha256": digest}


def build_header(*, script: str, specs: list[Any], thresholds: dict[str, list[Any]],
                 registry: Registry, tags: dict[str, str], segment: str | None,
                 interval_s: float = 1.0) -> dict[str, Any]:
    """The header minus the start time (set when the run starts)."""
    return {
        "kind": "header", "format": FORMAT, "version": VERSION, "loadgen": __version__,
        "script": script_identity(script),
        "scenarios": [{"name": s.name, "class": getattr(s.cls, "__name__", str(s.cls)),
                       "test_type": next((b.__name__ for b in getattr(s.cls, "__mro__", ())[1:]
                                          if b.__module__.startswith("loadgen.testtypes")),
                                         None),
                       "executor": type(s.executor).__name__} for s in specs],
        "thresholds": thresholds,
        "metrics": [declaration(registry, n) for n in registry.metrics],
        "tags": dict(tags), "execution_segment": segment, "interval_s": interval_s,
        "hdr": {"lowest": 1, "significant_figures": SIG_FIGS, "series_sub_bits": SUB_BITS},
    }


def declared_thresholds(specs: list[Any], files: list[str]) -> dict[str, list[Any]]:
    """The run's thresholds as declared: scenarios' then files' (a file that does not load
    is the run's own error to report; it is left out here)."""
    sources = [s.cls.effective_thresholds() for s in specs
               if hasattr(s.cls, "effective_thresholds")]
    for f in files:
        with contextlib.suppress(ConfigError):
            sources.append(th.load_threshold_file(f))
    try:
        return th.merge_thresholds(sources)
    except ConfigError:
        return {}


def execution_segment(cfg: Any) -> str | None:
    """The run's execution segment, if the run has one (read defensively: the flag is
    another change's), for the header: a fleet's coordinator checks the segments cover
    [0, 1] once they exist."""
    for holder in (cfg, getattr(cfg, "overrides", None)):
        seg = getattr(holder, "execution_segment", None)
        if seg:
            return str(seg)
    return None


class ArchiveWriter:
    """Appends whole lines to the archive; the first failure is kept (the run's exit code
    becomes 110, as for any result file) and later writes are skipped."""

    def __init__(self, path: str, header: dict[str, Any], registry: Registry) -> None:
        self.path = path
        self.header = header
        self.registry = registry
        self.declared = {d["name"] for d in header["metrics"]}
        self.failure: str | None = None
        self.ended = False
        self._fd: int | None = None

    def start(self, unix_ns: int | None = None) -> None:
        ns = time.time_ns() if unix_ns is None else unix_ns
        self.header["start"] = {"unix_ns": ns, "iso": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))}
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                               0o644)
        except OSError as e:
            self.failure = f"--archive {self.path}: {e.strerror or e}"
            return
        self._line(self.header)

    def interval(self, iv: Interval) -> None:
        new = sorted(({name for name, _ in iv.metrics} | {k[1] for k in iv.series})
                     - self.declared)
        self.declared.update(new)
        self._line({"kind": "interval", "declare": [declaration(self.registry, n) for n in new],
                    **iv.to_json()})

    def end(self, duration_ns: int, exit_code: int, reason: str,
            results: dict[str, Any] | None = None) -> None:
        line: dict[str, Any] = {"kind": "end", "duration_ns": duration_ns,
                                "exit_code": exit_code, "reason": reason}
        if results:
            line["results"] = results
        self._line(line)
        self.ended = True
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _line(self, obj: dict[str, Any]) -> None:
        if self._fd is None or self.failure:
            return
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        try:
            view = memoryview(data)
            while view:  # one write() in practice; a short write is finished, never dropped
                view = view[os.write(self._fd, view):]
        except OSError as e:
            self.failure = f"--archive {self.path}: {e.strerror or e}"


# ---- reading --------------------------------------------------------------------------------
@dataclass
class ArchiveInfo:
    """Everything but the intervals: what the first (validating) pass learns."""

    path: str
    header: dict[str, Any]
    types: Types = field(default_factory=dict)
    end: dict[str, Any] | None = None
    intervals: int = 0
    last_end_s: float = 0.0


def _lines(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, also when the reader stops early
    except OSError as e:
        raise ArchiveError(f"archive {path}: {e.strerror or e}") from None
    with f:
        no = 0
        while True:
            raw = f.readline(MAX_LINE + 1)
            if not raw:
                return
            no += 1
            if len(raw) > MAX_LINE:
                raise ArchiveError(f"archive {path}: line {no} is longer than {MAX_LINE} bytes")
            if not raw.endswith(b"\n"):
                raise ArchiveError(f"archive {path}: line {no} is cut off (truncated archive; "
                                   "if its run was killed in the middle of a write, remove "
                                   "that last line to merge the rest)")
            try:
                obj = json.loads(raw)
            except ValueError:
                raise ArchiveError(f"archive {path}: line {no} is not JSON (garbage or a "
                                   "damaged archive)") from None
            if not isinstance(obj, dict):
                raise ArchiveError(f"archive {path}: line {no} is not a JSON object")
            yield no, obj


def _declare(info: ArchiveInfo, decls: Any, no: int) -> None:
    try:
        for d in decls:
            mtype, contains = MetricType(d["type"]), Contains(d.get("contains", "default"))
            if mtype is MetricType.TREND and d.get("unit_exp") != UNIT_EXP[contains]:
                raise ArchiveError(
                    f"archive {info.path}: incompatible histogram configuration: metric "
                    f"{d['name']} was recorded in units of 2**{d.get('unit_exp')}, this "
                    f"loadgen merges 2**{UNIT_EXP[contains]}")
            info.types[str(d["name"])] = (mtype, contains)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError(f"archive {info.path}: line {no}: bad metric declaration "
                           f"({type(e).__name__}: {e})") from None


def scan(path: str) -> ArchiveInfo:
    """Validate a whole archive (every line parsed and decoded) without keeping its data."""
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise ArchiveError(f"archive {path}: empty file (not a loadgen archive)")
    no, header = first
    if header.get("kind") != "header" or header.get("format") != FORMAT:
        raise ArchiveError(f"archive {path}: not a loadgen archive (no header line)")
    if header.get("version") != VERSION:
        raise ArchiveError(f"archive {path}: archive format version {header.get('version')!r},"
                           f" this loadgen reads version {VERSION}")
    hdr = header.get("hdr") or {}
    want = {"lowest": 1, "significant_figures": SIG_FIGS, "series_sub_bits": SUB_BITS}
    if hdr != want:
        raise ArchiveError(f"archive {path}: incompatible histogram configuration {hdr} "
                           f"(this loadgen merges {want})")
    problem = header_problem(header)
    if problem:
        raise ArchiveError(f"archive {path}: bad header: {problem}")
    info = ArchiveInfo(path, header)
    _declare(info, header.get("metrics"), no)
    for no, obj in lines:
        kind = obj.get("kind")
        if info.end is not None:
            raise ArchiveError(f"archive {path}: line {no} follows the end line")
        if kind == "interval":
            _declare(info, obj.get("declare") or (), no)
            iv = _interval(info, obj, no)
            info.intervals += 1
            info.last_end_s = max(info.last_end_s, iv.end_s)
        elif kind == "end":
            dur, code = obj.get("duration_ns"), obj.get("exit_code")
            if (type(dur) is not int or dur < 0 or type(code) is not int
                    or code not in _EXIT_CODES):
                raise ArchiveError(f"archive {path}: line {no}: bad end line (duration_ns "
                                   "must be a count of ns, exit_code one of loadgen's)")
            if problem := trailer_problem(obj.get("results")):
                raise ArchiveError(f"archive {path}: line {no}: bad end line: {problem}")
            info.end = obj
        else:
            raise ArchiveError(f"archive {path}: line {no}: unknown line kind {kind!r}")
    return info


def header_problem(h: dict[str, Any]) -> str | None:
    """What is wrong with a header's shape (None: nothing), so later code can trust it."""
    script, start = h.get("script"), h.get("start")
    if not isinstance(script, dict) or not all(
            isinstance(script.get(k), str) for k in ("name", "sha256")):
        return "script must be {name, sha256}"
    scenarios = h.get("scenarios")
    if not isinstance(scenarios, list) or not all(
            isinstance(s, dict) and isinstance(s.get("name"), str) for s in scenarios):
        return "scenarios must be a list of {name, executor}"
    if not isinstance(h.get("thresholds"), dict):
        return "thresholds must be an object"
    if not isinstance(h.get("tags"), dict):
        return "tags must be an object"
    if not isinstance(start, dict) or not isinstance(start.get("unix_ns"), int):
        return "start must be {unix_ns, iso}"
    if not isinstance(h.get("interval_s"), int | float):
        return "interval_s must be a number"
    return None


def intervals(info: ArchiveInfo) -> Iterator[Interval]:
    """The intervals of a scanned archive, decoded one at a time (memory: one interval)."""
    for no, obj in _lines(info.path):
        if obj.get("kind") == "interval":
            yield _interval(info, obj, no)


def _interval(info: ArchiveInfo, obj: dict[str, Any], no: int) -> Interval:
    try:
        return Interval.from_json(obj, info.types)
    except IntervalError as e:
        raise ArchiveError(f"archive {info.path}: line {no}: {e}") from None
