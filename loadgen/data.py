"""Shared test data (k6's SharedArray): rows read once per process, read-only, and handed out
so that no two VUs or iterations of a test use the same row, even across instances split
with `--execution-segment`.

    USERS = loadgen.data.csv("users.csv")        # at module level: loaded once

    async def iteration(self, vu):
        user = USERS.per_vu(vu)                  # one row per VU, test-wide
        order = ORDERS.per_iteration(vu)         # one row per iteration, test-wide

Uniqueness comes from the VU's test-wide numbers (`vu.id_in_test`, `vu.iteration_in_test`,
k6's `exec.vu.idInTest` / `exec.scenario.iterationInTest`), which each instance derives
from its segment's stripes. A relative path is read from the scenario file's folder (k6's
`open()`); a missing, unreadable, non-UTF-8, malformed or empty file is a configuration
error (exit 104) when the scenario file loads.
"""

from __future__ import annotations

import csv as _csv
import io
import json as _json
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, overload

from loadgen.errors import ConfigError

#: The most bytes one data file may hold: rows live in memory for the whole run.
MAX_FILE_BYTES = 256 * 2**20

_cache: dict[tuple[Any, ...], SharedRows] = {}
_lock = threading.Lock()


class _Numbered(Protocol):
    id_in_test: int
    iteration_in_test: int


class SharedRows(Sequence[Any]):
    """Immutable rows (mappings and tuples all the way down) with unique-row helpers."""

    __slots__ = ("_rows", "source")

    def __init__(self, rows: tuple[Any, ...], source: str) -> None:
        self._rows = rows
        self.source = source

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Any, ...]: ...

    def __getitem__(self, i: int | slice) -> Any:
        return self._rows[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def __repr__(self) -> str:
        return f"<SharedRows {self.source}: {len(self._rows)} rows>"

    def per_vu(self, vu: _Numbered, *, wrap: bool = True) -> Any:
        """This VU's row: unique across the test while it has no more VUs than rows
        (`wrap=False`: raise instead of reusing a row when it does)."""
        return self._pick(vu.id_in_test - 1, "VU", wrap)

    def per_iteration(self, vu: _Numbered, *, wrap: bool = True) -> Any:
        """The current iteration's row: unique across the test (all instances) while its
        scenario runs no more iterations than there are rows."""
        return self._pick(vu.iteration_in_test, "iteration", wrap)

    def _pick(self, index: int, what: str, wrap: bool) -> Any:
        if index < 0:
            raise LookupError(f"{self.source}: no {what} number yet (call this inside an "
                              "iteration)")
        if index >= len(self._rows) and not wrap:
            raise LookupError(f"{self.source}: {what} {index} has no unique row left "
                              f"(only {len(self._rows)} rows)")
        return self._rows[index % len(self._rows)]


def csv(path: str | Path, *, delimiter: str = ",") -> SharedRows:
    """The rows of a CSV file with a header line, each a read-only {column: text} mapping."""
    p = _resolve(path)
    key = ("csv", str(p), delimiter)
    return _cached(key, lambda: _parse_csv(p, _read(p), delimiter))


def json(path: str | Path) -> SharedRows:
    """The elements of a JSON file holding a non-empty array, deeply read-only."""
    p = _resolve(path)
    return _cached(("json", str(p)), lambda: _parse_json(p, _read(p)))


def _cached(key: tuple[Any, ...], load: Any) -> SharedRows:
    with _lock:
        rows = _cache.get(key)
        if rows is None:
            rows = _cache[key] = load()
        return rows


def _resolve(path: str | Path) -> Path:
    """A relative path is relative to the file that called csv()/json() (the scenario)."""
    p = Path(path)
    if p.is_absolute():
        return p
    frame = sys._getframe(2)  # _resolve <- csv/json <- the caller
    caller = frame.f_globals.get("__file__")
    base = Path(caller).resolve().parent if caller else Path.cwd()
    return base / p


def _read(p: Path) -> str:
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"data file {str(p)!r} is {size} bytes; at most {MAX_FILE_BYTES} "
                              "are read")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"data file {str(p)!r} does not exist") from None
    except OSError as e:
        raise ConfigError(f"data file {str(p)!r} cannot be read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"data file {str(p)!r} is not UTF-8 text (byte {e.start})") from None


def _parse_csv(p: Path, text: str, delimiter: str) -> SharedRows:
    try:
        rows = list(_csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except _csv.Error as e:
        raise ConfigError(f"data file {str(p)!r} is not valid CSV: {e}") from None
    rows = [r for r in rows if r]  # blank lines
    if not rows:
        raise ConfigError(f"data file {str(p)!r} is empty (a header line and rows expected)")
    header, body = rows[0], rows[1:]
    if len(set(header)) != len(header):
        raise ConfigError(f"data file {str(p)!r}: the header repeats a column name")
    if not body:
        raise ConfigError(f"data file {str(p)!r} has a header but no rows")
    out = []
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ConfigError(f"data file {str(p)!r}, row {n}: {len(r)} fields, the header has "
                              f"{len(header)}")
        out.append(MappingProxyType(dict(zip(header, r, strict=True))))
    return SharedRows(tuple(out), p.name)


def _parse_json(p: Path, text: str) -> SharedRows:
    if not text.strip():
        raise ConfigError(f"data file {str(p)!r} is empty (a JSON array expected)")
    try:
        data = _json.loads(text)
    except ValueError as e:
        raise ConfigError(f"data file {str(p)!r} is not valid JSON: {e}") from None
    if not isinstance(data, list):
        raise ConfigError(f"data file {str(p)!r} must hold a JSON array (as k6's SharedArray), "
                          f"not a {type(data).__name__}")
    if not data:
        raise ConfigError(f"data file {str(p)!r} holds an empty array")
    return SharedRows(tuple(_freeze(x) for x in data), p.name)


def _freeze(x: Any) -> Any:
    """Read-only all the way down: one process-wide copy is shared by every VU."""
    if isinstance(x, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in x.items()})
    if isinstance(x, list):
        return tuple(_freeze(v) for v in x)
    return x
