"""A WebSocket connect still waiting for its handshake when the VU is stopped leaves a
sample (its wait so far) and an error, instead of vanishing from ws_connecting."""

from __future__ import annotations

import asyncio

from wshelpers import RealHarness


async def test_a_connect_cut_off_mid_handshake_is_recorded():
    release = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await release.wait()  # accepts, never answers the upgrade

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        harness = RealHarness(f"http://127.0.0.1:{port}")
        vu = harness.vu()
        task = asyncio.ensure_future(vu.ws.connect("/ws", timeout=5))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        release.set()
        for w in writers:
            w.close()
            await w.wait_closed()
        server.close()
        await server.wait_closed()
    [(_, ms, tags)] = harness.samples("ws_connecting")
    assert 250 <= ms < 2000 and tags["status"] == "0"
    assert harness.total("ws_errors", error="connect interrupted") == 1
