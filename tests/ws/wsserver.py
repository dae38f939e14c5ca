"""A loopback HTTP + WebSocket server for the WebSocket tests (127.0.0.1, port 0), with the
faults the tests need: dropped pushes, corrupted echoes, 1002 closes, refusals, a reader that
never reads, and a flood the client does not read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web


@dataclass
class Hub:
    """Server state and fault knobs, read by the tests afterwards."""

    drop_every: int = 0  # drop the push of every Nth posted message (exact: N, 2N, ...)
    push_delay: float | None = 0.02  # seconds after the ack; None: push before acking
    corrupt_every: int = 0  # flip one byte in every Nth echoed binary message / HTTP echo
    base_url: str = ""
    subscribers: list[web.WebSocketResponse] = field(default_factory=list)
    posted: int = 0
    pushed: int = 0
    dropped: list[str] = field(default_factory=list)
    echoed: int = 0
    corrupted: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _rr: int = 0

    def corrupt(self, data: bytes) -> bytes:
        self.echoed += 1
        if self.corrupt_every and self.echoed % self.corrupt_every == 0:
            self.corrupted += 1
            b = bytearray(data)
            b[len(b) // 2] ^= 0x40
            return bytes(b)
        return data

    async def push(self, mid: str) -> None:
        if self.push_delay:
            await asyncio.sleep(self.push_delay)
        live = [w for w in self.subscribers if not w.closed]
        if not live:
            return
        ws = live[self._rr % len(live)]  # round robin: every message reaches one socket
        self._rr += 1
        self.pushed += 1
        await ws.send_str(f'{{"id":"{mid}"}}')


HUB = web.AppKey("hub", Hub)


async def post_message(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    mid = str((await request.json())["id"])
    hub.posted += 1
    if hub.drop_every and hub.posted % hub.drop_every == 0:
        hub.dropped.append(mid)
    elif hub.push_delay is None:
        await hub.push(mid)
    else:
        task = asyncio.ensure_future(hub.push(mid))
        hub.tasks.add(task)
        task.add_done_callback(hub.tasks.discard)
    return web.json_response({"id": mid}, status=201)


async def http_echo(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB]
    return web.Response(body=hub.corrupt(await request.read()))


async def subscribe(request: web.Request) -> web.WebSocketResponse:
    hub: Hub = request.app[HUB]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    hub.subscribers.append(ws)
    try:
        async for _ in ws:
            pass
    finally:
        hub.subscribers.remove(ws)
    return ws


async def echo(request: web.Request) -> web.WebSocketResponse:
    hub: Hub = request.app[HUB]
    ws = web.WebSocketResponse(max_msg_size=64 * 2**20)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            if msg.data == "close1002":
                await ws.close(code=1002, message=b"protocol error, on purpose")
                break
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(hub.corrupt(msg.data))
    return ws


async def flood(request: web.Request) -> web.WebSocketResponse:
    """Send n messages at once, then wait for the client to close."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    n, size = int(request.query.get("n", "200")), int(request.query.get("size", "1024"))
    for i in range(n):
        await ws.send_bytes(i.to_bytes(4, "big") * (size // 4))
    async for _ in ws:
        pass
    return ws


async def sink(request: web.Request) -> web.WebSocketResponse:
    """Accept, then never read until `hold` seconds passed: the client's sends back up."""
    ws = web.WebSocketResponse(max_msg_size=64 * 2**20)
    await ws.prepare(request)
    await asyncio.sleep(float(request.query.get("hold", "1.5")))
    async for _ in ws:
        pass
    return ws


async def mute(request: web.Request) -> web.WebSocketResponse:
    """Accept, then answer nothing, not even pings, for `hold` seconds (a dead peer)."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await asyncio.sleep(float(request.query.get("hold", "0.6")))
    return ws


async def forbid(request: web.Request) -> web.Response:
    return web.Response(status=403, text="forbidden")


async def plain(request: web.Request) -> web.Response:
    return web.Response(text="not a websocket")


async def start(hub: Hub) -> web.AppRunner:
    app = web.Application(client_max_size=64 * 2**20)
    app[HUB] = hub
    app.router.add_post("/messages", post_message)
    app.router.add_post("/echo", http_echo)
    app.router.add_get("/ws/subscribe", subscribe)
    app.router.add_get("/ws/echo", echo)
    app.router.add_get("/ws/flood", flood)
    app.router.add_get("/ws/sink", sink)
    app.router.add_get("/ws/mute", mute)
    app.router.add_get("/forbid", forbid)
    app.router.add_get("/plain", plain)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    hub.base_url = f"http://127.0.0.1:{port}"
    return runner
