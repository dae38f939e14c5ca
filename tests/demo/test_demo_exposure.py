"""The demo server warns when it is reachable from other machines: /admin/faults has no
authentication. Tests only ever listen on 127.0.0.1; the non-loopback decision is checked
on the pure function."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadgen.demo.server import exposure_warning, startup_lines

CHILD = """
import sys
import loadgen.demo.server as server
if sys.argv[1] == "forced":  # the wiring: whatever the decision says is printed
    server.exposure_warning = lambda host: "WARNING: forced for the test"
server.serve("127.0.0.1", 0)
"""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1",
                                  "[2001:db8::1]", "myhost.internal"])
def test_every_non_loopback_bind_is_warned_about(host: str) -> None:
    warning = exposure_warning(host)
    assert warning is not None and "/admin/faults" in warning and "127.0.0.1" in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_binds_are_not_warned_about(host: str) -> None:
    assert exposure_warning(host) is None


def test_the_start_up_lines_for_0_0_0_0_carry_the_warning() -> None:
    listening, warning = startup_lines("0.0.0.0", 8000)
    assert listening == "demo server listening on http://0.0.0.0:8000"
    assert warning.startswith("WARNING: the demo server listens on 0.0.0.0")


@pytest.mark.parametrize(("mode", "warned"), [("plain", False), ("forced", True)])
def test_serve_prints_the_decision_at_start_up(mode: str, warned: bool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("demo server listening on http://127.0.0.1:")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert ("WARNING" in err) is warned, err
