"""Shared fixtures: loopback HTTP servers started by the tests themselves."""

from __future__ import annotations

import socket
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

