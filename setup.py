"""The one C extension, loadgen.metrics._batch (see loadgen/metrics/batch.py), built by
`pip install` (and `pip install -e`) where a C compiler and Python's headers exist.

It is optional: where it cannot be built the install goes on without it and loadgen runs
its pure-Python path, the same columns more slowly. LOADGEN_NO_EXTENSIONS=1 at install time
skips building it; at run time it makes loadgen ignore a built one. Everything else about
the package is in pyproject.toml.
"""

import os

from setuptools import Extension, setup

EXTENSIONS = [] if os.environ.get("LOADGEN_NO_EXTENSIONS", "") not in ("", "0") else [
    Extension("loadgen.metrics._batch", ["loadgen/metrics/_batch.c"], optional=True),
]

setup(ext_modules=EXTENSIONS)
