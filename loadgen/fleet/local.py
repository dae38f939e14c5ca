"""A worker as a child process on this machine: `python -m loadgen.fleet.worker` with its
stdin and stdout as the two ends of the conversation.

This is the fleet's only machine-specific part. `Fleet` talks to a worker through what a
`ProcessLink` offers (`send`, `receive`, `kill`, `wait`, `describe_exit`, `name`), so a Ray
actor or a Kubernetes pod becomes another link with the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

from loadgen.fleet.wire import read_frame

READ_LIMIT = 2**16


def describe_returncode(code: int | None) -> str:
    """A worker process's end in words, for the summary that names a lost worker."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class ProcessLink:
    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc

    @classmethod
    async def spawn(cls, index: int) -> ProcessLink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadgen.fleet.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=READ_LIMIT,
            start_new_session=True)  # a terminal's Ctrl-C is the coordinator's to handle
        return cls(index, proc)

    @property
    def name(self) -> str:
        return f"worker {self.index} (pid {self.proc.pid})"

    def send(self, frame: bytes) -> bool:
        """Queue a frame; False when the worker can no longer be written to."""
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing() or self.proc.returncode is not None:
            return False
        try:
            stdin.write(frame)
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False
        return True

    async def receive(self) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        return await read_frame(self.proc.stdout)

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def wait(self, within_s: float) -> int | None:
        """Its exit status, or None if it is still running after `within_s` seconds."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.proc.wait(), within_s)
        return None

    def describe_exit(self) -> str:
        return describe_returncode(self.proc.returncode)

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
