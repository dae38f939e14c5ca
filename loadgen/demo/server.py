"""Running the demo app: `start_server` for tests and `make demo`, `serve` for humans.

Binds to 127.0.0.1 unless told otherwise: this is a test target, not a public service.
`serve` prefers uvloop (the same loop the load generator uses, so a local benchmark
compares like with like) and shuts down cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from aiohttp import web

from loadgen.demo.app import create_app
from loadgen.demo.config import DemoConfig

# How long a graceful shutdown waits for in-flight requests before closing connections.
SHUTDOWN_TIMEOUT_S = 5.0


async def start_server(
    host: str = "127.0.0.1", port: int = 0, config: DemoConfig | None = None
) -> tuple[web.AppRunner, int]:
    """Start the app on host:port (0 = any free port); returns (runner, actual port).

    Stop it with `await runner.cleanup()`.
    """
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    actual = port
    for addr in runner.addresses:  # the real port when port 0 was asked for
        if isinstance(addr, tuple) and len(addr) >= 2:
            actual = int(addr[1])
            break
    return runner, actual


async def _serve(host: str, port: int, config: DemoConfig | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, stop.set)
    runner, actual = await start_server(host, port, config)
    shown = f"[{host}]" if ":" in host else host
    print(f"demo server listening on http://{shown}:{actual}", flush=True)
    try:
        await stop.wait()  # until SIGINT/SIGTERM
    finally:
        await runner.cleanup()


def serve(host: str = "127.0.0.1", port: int = 8000, config: DemoConfig | None = None) -> None:
    """Run the demo service in the foreground until SIGINT/SIGTERM (blocking)."""
    with contextlib.suppress(KeyboardInterrupt):  # only if signal handlers were unavailable
        try:
            import uvloop
        except ImportError:
            asyncio.run(_serve(host, port, config))
        else:
            uvloop.run(_serve(host, port, config))
