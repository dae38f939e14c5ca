"""Names a package exports but imports on first use (PEP 562's module `__getattr__`).

`loadgen run` pays for every module it imports before the first request, and a package's
`__init__` importing all it exports makes `import loadgen.x.y` load the whole of `loadgen.x`.
The packages whose exports a plain run does not use (the test types, the events, the API)
list them here instead, each name with the module that defines it; a type checker sees them
through the package's `if TYPE_CHECKING:` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_getattr(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: `where[name]` is the module defining `name`
    (the name itself when it is that submodule); the value is kept on the package, so the
    import runs once."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        found = importlib.import_module(module)
        value = found if module == f"{package}.{name}" else getattr(found, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def lazy_dir(package: str, where: Mapping[str, str]) -> Callable[[], list[str]]:
    """A module `__dir__` for `package`: `dir()` lists the lazy names before their import,
    as it did when they were imported eagerly."""

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __dir__
