"""`--workers N|auto`: how many worker processes, and why (the banner says it)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from loadgen.errors import ConfigError

MAX_WORKERS = 256


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def is_loopback(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def choose(value: str | None, targets: list[str | None]) -> tuple[int, str] | None:
    """(workers, why) from the flag; None when no flag was given (the single-process
    path). `targets`: the scenarios' base URLs; `auto` leaves a core to a loopback one.
    Every bad value is a ConfigError (exit 104)."""
    if value is None:
        return None
    text = value.strip().lower()
    cores = usable_cores()
    if text == "auto":
        local = next((t for t in targets if is_loopback(t)), None)
        if local is not None:
            n = max(1, cores - 1)
            return n, (f"auto: {cores} usable core(s), one left to the loopback target "
                       f"{urlsplit(local).hostname}")
        return cores, f"auto: {cores} usable core(s)"
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ConfigError(f"--workers must be a whole number >= 1 or auto, got {value!r}")
    n = int(text)
    if n > MAX_WORKERS:
        raise ConfigError(f"--workers {n} is over the limit of {MAX_WORKERS} processes")
    why = "as asked"
    if n > cores:
        why = f"as asked; more than the {cores} usable core(s): they will share them"
    return n, why


def even_sequence(n: int) -> str:
    """k6's execution-segment sequence of n equal parts: 0,1/n,...,1."""
    return ",".join(["0", *(f"{i}/{n}" for i in range(1, n)), "1"])


def segment(i: int, n: int) -> str:
    return f"{i}/{n}:{i + 1}/{n}" if n > 1 else "0:1"
