"""A local worker's frames out to its coordinator, without stopping the worker's loop.

A blocking write of a frame bigger than the pipe's buffer (64 KiB; an interval of a busy
worker is hundreds of KiB) waits for the coordinator to read, and the worker's iterations
wait with it. Here the loop's pipe transport writes what the pipe takes and keeps the rest
for the loop to finish in the background. Bounded: more than MAX_PENDING bytes waiting
means the coordinator stopped reading, which is reported as a write error (the worker
stops as when the coordinator is gone). At the end the worker drains (DRAIN_S at most)
before it exits, so its last interval and `done` are not lost. Anything that is not a
pipe (a file, under a debugger) gets the plain blocking write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import BinaryIO

from loadgen.fleet.wire import MAX_FRAME, write_all

MAX_PENDING = MAX_FRAME
DRAIN_S = 5.0


class _Drained(asyncio.Protocol):
    """Told by the transport when its buffer is empty again (limits 0: every buffered
    byte pauses writing, the last one written resumes it) or the pipe is gone."""

    def __init__(self) -> None:
        self.empty = asyncio.Event()
        self.empty.set()

    def pause_writing(self) -> None:
        self.empty.clear()

    def resume_writing(self) -> None:
        self.empty.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.empty.set()


class PipeOut:
    def __init__(self, fd: int, transport: asyncio.WriteTransport | None = None,
                 protocol: _Drained | None = None) -> None:
        self.fd = fd
        self.transport = transport
        self.protocol = protocol

    @classmethod
    async def open(cls, fd: int) -> PipeOut:
        loop = asyncio.get_running_loop()
        pipe = _file(fd)
        try:
            transport, protocol = await loop.connect_write_pipe(_Drained, pipe)
        except (ValueError, OSError):  # not a pipe, socket or character device
            pipe.close()
            return cls(fd)
        transport.set_write_buffer_limits(high=0, low=0)
        return cls(fd, transport, protocol)

    def write(self, frame: bytes) -> None:
        """Queue a frame; OSError when the coordinator is gone or stopped reading."""
        t = self.transport
        if t is None:
            write_all(self.fd, frame)
            return
        if t.is_closing():
            raise BrokenPipeError("the coordinator closed the pipe")
        waiting = t.get_write_buffer_size()
        if waiting + len(frame) > MAX_PENDING:
            raise OSError(f"the coordinator has not read {waiting} bytes of frames")
        t.write(frame)

    async def drain(self, within_s: float) -> None:
        """Wait (at most `within_s`) until every queued byte is in the pipe."""
        if self.protocol is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.protocol.empty.wait(), within_s)
        with contextlib.suppress(OSError):
            os.set_blocking(self.fd, True)


def _file(fd: int) -> BinaryIO:
    """The fd as the file object a pipe transport takes (it stays open: the worker's)."""
    return open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115 - the transport's
