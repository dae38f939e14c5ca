"""The optional C extensions (setup.py builds them where a compiler exists), found or not.

Each has a pure-Python twin that gives the same results; `load` says which one to use.
LOADGEN_NO_EXTENSIONS=1 (read when the caller imports) forces the twins on any machine.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def disabled() -> bool:
    """LOADGEN_NO_EXTENSIONS is set to something other than "" or "0"."""
    return os.environ.get("LOADGEN_NO_EXTENSIONS", "") not in ("", "0")


def load(name: str) -> ModuleType | None:
    """The built extension module `name` ("loadgen.net._conn"), or None when extensions
    are disabled or this one was not built here (no compiler): the twin's turn."""
    if disabled():
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
