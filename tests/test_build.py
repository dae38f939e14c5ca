"""The package builds as a wheel with its C extension where a compiler is, and without it
(but still builds) where the compiler fails: `pip install .` never needs extra steps, and a
machine with only Python still gets a working loadgen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import loadgen

ROOT = Path(loadgen.__file__).resolve().parents[1]


def _wheel_files(tmp: Path, env: dict[str, str]) -> list[str]:
    """Build the wheel from a copy of the sources (the checkout keeps no build/ debris)."""
    if not (ROOT / "pyproject.toml").exists() or not (ROOT / "setup.py").exists():
        pytest.skip("loadgen is installed from a wheel here, not run from its source tree")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "*.so", "tests", "results"))
    out = tmp / "dist"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = out.glob("loadgen-*.whl")
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def _compiler_here() -> bool:
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return bool(shutil.which("gcc") or shutil.which("cc")) and headers.exists()


def test_wheel_carries_the_extension_where_a_compiler_is(tmp_path: Path) -> None:
    if not _compiler_here():
        pytest.skip("no C compiler or no Python headers here")
    names = _wheel_files(tmp_path, {"LOADGEN_NO_EXTENSIONS": ""})
    for ext in ("loadgen/metrics/_batch.", "loadgen/net/_conn.", "loadgen/net/_maker.",
                "loadgen/net/ws/_core."):
        assert any(n.startswith(ext) and n.endswith(".so") for n in names), ext
    assert "loadgen/metrics/batch.py" in names and "loadgen/net/conn_core.py" in names
    assert "loadgen/net/ws/core.py" in names


def test_wheel_builds_without_the_extension_when_compiling_fails(tmp_path: Path) -> None:
    """CC pointing at a compiler that always fails stands for a machine without one."""
    names = _wheel_files(tmp_path, {"CC": "false", "LOADGEN_NO_EXTENSIONS": ""})
    assert not any(n.endswith(".so") for n in names)
    assert "loadgen/metrics/batch.py" in names and "loadgen/cli.py" in names
    assert "loadgen/net/conn_core.py" in names and "loadgen/net/ws/core.py" in names
