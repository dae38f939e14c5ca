"""A real headless Chromium driven over the Chrome DevTools Protocol (the `websockets` client
loadgen already depends on), to check the HTML report as a user's browser renders it.

`Browser` starts `chromium --headless=new --remote-debugging-port=0` with a throw-away
profile, reads the port from DevToolsActivePort, opens one page and records what the page
did: console errors, uncaught exceptions and every request it made. Every wait has a
deadline; the browser is killed (its process group) on the way out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    return next((p for c in CANDIDATES if (p := shutil.which(c))), None)


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, profile: Path, *, deadline_s: float = 15.0) -> None:
        self.profile = profile
        self.deadline_s = deadline_s
        self.proc: asyncio.subprocess.Process | None = None
        self.ws: ClientConnection | None = None
        self.session: str | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.events: list[dict[str, Any]] = []
        self._event_seen = asyncio.Event()

    # ---- start / stop ----------------------------------------------------------------------
    async def __aenter__(self) -> Browser:
        exe = chromium_path()
        if exe is None:
            raise BrowserError("no chromium on PATH (make test installs Debian's chromium)")
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "DevToolsActivePort").unlink(missing_ok=True)  # a previous run's
        args = [exe, "--headless=new", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--mute-audio", "--window-size=1280,900", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)
        try:
            await self._attach()
        except BaseException:
            await self.__aexit__()  # never leave a browser behind a failed start
            raise
        return self

    async def _attach(self) -> None:
        """Wait for the DevTools port, connect, open one page and enable its events."""
        assert self.proc is not None
        port_file = self.profile / "DevToolsActivePort"
        end = time.monotonic() + self.deadline_s
        while True:
            text = port_file.read_text() if port_file.exists() else ""
            lines = text.split("\n")
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                break
            if self.proc.returncode is not None:
                raise BrowserError(f"chromium exited at start with code {self.proc.returncode}")
            if time.monotonic() > end:
                raise BrowserError("chromium wrote no DevToolsActivePort in time")
            await asyncio.sleep(0.05)
        url = f"ws://127.0.0.1:{int(lines[0])}{lines[1].strip()}"
        self.ws = await asyncio.wait_for(connect(url, max_size=None), self.deadline_s)
        self._reader = asyncio.create_task(self._read())
        target = await self.call("Target.createTarget", url="about:blank", session=False)
        att = await self.call("Target.attachToTarget", targetId=target["targetId"],
                              flatten=True, session=False)
        self.session = att["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            await self.call(f"{domain}.enable")

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.proc is not None:  # the whole group: renderers and zygotes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await asyncio.wait_for(self.proc.wait(), 5)

    # ---- the protocol --------------------------------------------------------------------
    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            msg = json.loads(raw)
            fut = self._waiting.pop(msg.get("id", -1), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            elif "method" in msg:
                self.events.append(msg)
                self._event_seen.set()

    async def call(self, method: str, *, session: bool = True, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params}
        if session and self.session:
            msg["sessionId"] = self.session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[mid] = fut
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, self.deadline_s)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def wait_event(self, method: str) -> dict[str, Any]:
        end = time.monotonic() + self.deadline_s
        while True:
            for e in self.events:
                if e["method"] == method:
                    return e
            self._event_seen.clear()
            left = end - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no {method} within {self.deadline_s} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_seen.wait(), left)

    async def evaluate(self, expression: str) -> Any:
        r = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    # ---- what the tests use --------------------------------------------------------------
    async def open(self, url: str, ready_js: str) -> None:
        """Navigate and wait until the load event and `ready_js` is truthy."""
        await self.call("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")
        end = time.monotonic() + self.deadline_s
        while not await self.evaluate(ready_js):
            if time.monotonic() > end:
                raise BrowserError(f"the page never got ready ({ready_js})")
            await asyncio.sleep(0.05)

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def problems(self) -> list[str]:
        """Console errors and uncaught exceptions, as text."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                                 "assert"):
                out.append(f"console.{p['type']}: {p.get('args')}")
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    async def screenshot(self) -> bytes:
        """The whole page as PNG."""
        height = int(await self.evaluate("document.documentElement.scrollHeight"))
        await self.call("Emulation.setDeviceMetricsOverride", width=1280,
                        height=min(max(height, 900), 16000), deviceScaleFactor=1, mobile=False)
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])
