"""The C extensions, built by `pip install` (and `pip install -e`) where a C compiler and
Python's headers exist: loadgen.metrics._batch (see loadgen/metrics/batch.py),
loadgen.net._conn (loadgen/net/conn_core.py), loadgen.net._maker (loadgen/net/types.py),
loadgen.net._get (loadgen/net/plain_get.py), loadgen.net.ws._core (loadgen/net/ws/core.py)
loadgen.execution._iteration (loadgen/execution/fast_iteration.py) and
loadgen.scripting._check (loadgen/scripting/fast_check.py).

They are optional: where one cannot be built the install goes on without it and loadgen
runs its pure-Python twin, the same results more slowly. LOADGEN_NO_EXTENSIONS=1 at install time
skips building them; at run time it makes loadgen ignore built ones. Everything else about
the package is in pyproject.toml.
"""

import os

from setuptools import Extension, setup

SHARED = ["loadgen/cshared.h"]  # a header the extensions include
EXTENSIONS = [] if os.environ.get("LOADGEN_NO_EXTENSIONS", "") not in ("", "0") else [
    Extension("loadgen.metrics._batch", ["loadgen/metrics/_batch.c"], depends=SHARED,
              optional=True),
    Extension("loadgen.net._conn", ["loadgen/net/_conn.c"], depends=SHARED, optional=True),
    Extension("loadgen.net._maker", ["loadgen/net/_maker.c"], optional=True),
    Extension("loadgen.net._get", ["loadgen/net/_get.c"], depends=SHARED, optional=True),
    Extension("loadgen.execution._iteration", ["loadgen/execution/_iteration.c"], depends=SHARED,
              optional=True),
    Extension("loadgen.scripting._check", ["loadgen/scripting/_check.c"], depends=SHARED,
              optional=True),
    Extension("loadgen.net.ws._core", ["loadgen/net/ws/_core.c"], optional=True),
]

setup(ext_modules=EXTENSIONS)
