"""The fleet's messages: length-prefixed orjson frames over a byte stream (a pipe today,
a socket or an actor call later).

A frame is a 4-byte big-endian length and that many bytes of JSON. Every frame has a bound
(MAX_FRAME): a worker that sends garbage or a runaway interval is cut off with a message,
never allowed to grow the coordinator.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import orjson

MAX_FRAME = 64 * 2**20  # one interval of a busy worker is kilobytes to a few MiB
_LEN = struct.Struct(">I")


class WireError(Exception):
    """A frame that cannot be sent or read (the message says why)."""


def encode(msg: dict[str, Any]) -> bytes:
    """Raises WireError when `msg` is not JSON (setup() data that is not, for instance)."""
    try:
        body = orjson.dumps(msg)
    except (TypeError, orjson.JSONEncodeError) as e:
        raise WireError(str(e)) from None
    if len(body) > MAX_FRAME:
        raise WireError(f"message of {len(body)} bytes is over the {MAX_FRAME}-byte bound")
    return _LEN.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream (between frames)."""
    try:
        head = await reader.readexactly(_LEN.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise WireError("stream ended inside a frame header") from None
    (n,) = _LEN.unpack(head)
    if n > MAX_FRAME:
        raise WireError(f"frame of {n} bytes is over the {MAX_FRAME}-byte bound")
    try:
        body = await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        raise WireError("stream ended inside a frame") from None
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise WireError(f"frame is not JSON: {e}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("t"), str):
        raise WireError("frame is not a message object with a type")
    return msg


def write_all(fd: int, data: bytes) -> None:
    """Blocking write of a whole frame to a pipe (a worker's only channel out)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
