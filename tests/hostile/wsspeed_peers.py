"""Hostile WebSocket peers for tests/hostile/test_wsspeed.py: what the picows data path
must bound by itself, since picows hands it frames, not messages."""

from __future__ import annotations

import asyncio
import struct

import ws_servers

MIB = 2**20


def fragment(opcode: int, payload: bytes, *, fin: bool) -> bytes:
    """One unmasked server frame with FIN as given, any payload size."""
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 2**16:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


async def endless_fragments(reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
    """One binary message in 1 MiB fragments that never ends: 96 MiB at most, every
    fragment well under the client's max_size, the message three times over it."""
    await ws_servers.handshake(reader, writer)
    chunk = b"x" * MIB
    writer.write(fragment(0x2, chunk, fin=False))
    for _ in range(95):
        writer.write(fragment(0x0, chunk, fin=False))
        await writer.drain()
    await ws_servers._idle(reader)
