"""Running the demo app: `start_server` for tests and `make demo`, `serve` for humans.

Binds to 127.0.0.1 unless told otherwise: this is a test target, not a public service. Its
`/admin/faults` (stall it, corrupt its bytes, drop its deliveries) has no authentication, so
a start on any other address prints a warning saying who can now reach it.
`serve` prefers uvloop (the same loop the load generator uses, so a local benchmark
compares like with like) and shuts down cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import sys

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


def exposure_warning(host: str) -> str | None:
    """The start-up warning for `host`, or None when only this machine can connect.

    Decided from the address alone (no name is resolved): loopback addresses and
    `localhost` are safe; 0.0.0.0, ::, "" (every interface), any other address and any
    other name are not."""
    bare = host.strip().strip("[]")
    if bare.lower() == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(bare).is_loopback:
            return None
    shown = bare or "every interface"
    return (f"WARNING: the demo server listens on {shown}, not on a loopback address: anyone "
            "who can reach this machine can use its API and POST /admin/faults (no "
            "authentication: stall it, fail requests, corrupt bytes, drop deliveries). It is "
            "a test target; bind it to 127.0.0.1 unless that is what you want.")


def startup_lines(host: str, port: int) -> list[str]:
    """What `serve` prints once listening: the address, then the warning if exposed."""
    shown = f"[{host}]" if ":" in host else host
    warning = exposure_warning(host)
    return [f"demo server listening on http://{shown}:{port}", *([warning] if warning else [])]


async def _serve(host: str, port: int, config: DemoConfig | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, stop.set)
    runner, actual = await start_server(host, port, config)
    listening, *warnings = startup_lines(host, actual)
    print(listening, flush=True)
    for line in warnings:
        print(line, file=sys.stderr, flush=True)
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
