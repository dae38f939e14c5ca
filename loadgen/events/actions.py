"""Running one event: a shell command, an HTTP call or an async function, each bounded by
its timeout and cancellable at any moment (Ctrl-C), and each reduced to (ok, status,
output tail). Nothing here raises for what the event does: a failing or hanging event is an
outcome to record, not an error of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import os
import signal
import traceback
from collections.abc import Mapping
from typing import Any

from loadgen.events.model import TAIL_BYTES, Call, HttpCall, PlannedEvent, Shell, tail_text

#: after a kill, how long the shell's pipe and exit status are waited for (a grandchild that
#: left the process group may hold the pipe open: it is then abandoned, not waited for)
REAP_S = 2.0
READ_CHUNK = 65536

Result = tuple[bool, int | None, str]  # ok, status, output tail


class Tail:
    """The last TAIL_BYTES of an event's output (memory stays bounded whatever is printed),
    and the process group of a shell while it lives (for a hard exit to kill)."""

    def __init__(self) -> None:
        self.data = b""
        self.pgid: int | None = None

    def add(self, chunk: bytes) -> None:
        self.data = (self.data + chunk)[-TAIL_BYTES:]


async def _pump(stream: asyncio.StreamReader | None, tail: Tail) -> None:
    if stream is None:
        return
    while chunk := await stream.read(READ_CHUNK):
        tail.add(chunk)


def kill_group(pgid: int) -> None:
    """SIGKILL a shell's whole process group (it leads a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    kill_group(proc.pid)


async def run_shell(action: Shell, env: Mapping[str, str], tail: Tail) -> Result:
    """`/bin/sh -c COMMAND` in a new session; on cancellation (timeout, Ctrl-C) the group is
    killed and the cancellation goes on once the process is reaped. What it printed so far
    stays in `tail` (the caller's), so a killed command still shows its last words."""
    proc = await asyncio.create_subprocess_shell(
        str(action.command), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True, env=dict(env))
    tail.pgid = proc.pid
    pump = asyncio.ensure_future(_pump(proc.stdout, tail))
    try:
        code = await proc.wait()
        # the shell is gone; what it started in the background may still hold the pipe
        await asyncio.wait((pump,), timeout=REAP_S)
    except asyncio.CancelledError:
        _kill_group(proc)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), REAP_S)
        raise
    finally:
        _kill_group(proc)  # background children of a finished shell go with it
        tail.pgid = None
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
    out = tail_text(tail.data)
    return code == 0, code, out


def _expected(action: HttpCall, status: int) -> bool:
    exp = action.expect
    if exp is None:
        return 200 <= status < 400
    return status in ((exp,) if isinstance(exp, int) else tuple(exp))


async def run_http(action: HttpCall, url: str, timeout_s: float, tail: Tail,
                   insecure: bool = False) -> Result:
    """One request on a session of its own (never the VUs' client: not in the metrics);
    `insecure`: --insecure-skip-tls-verify, as for the scenario's own requests."""
    import aiohttp

    body: Any = None
    headers = dict(action.headers or {})
    if action.json is not None:
        body = jsonlib.dumps(action.json).encode()
        headers.setdefault("Content-Type", "application/json")
    elif action.data is not None:
        body = action.data if isinstance(action.data, bytes) else str(action.data).encode()
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s + 1)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session, \
                session.request(str(action.method).upper(), url, data=body, headers=headers,
                                allow_redirects=False, ssl=not insecure) as resp:
            while chunk := await resp.content.read(READ_CHUNK):
                tail.add(chunk)
            return _expected(action, resp.status), resp.status, tail_text(tail.data)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
        return False, None, tail_text(f"{type(e).__name__}: {e}")


async def run_call(action: Call) -> Result:
    """Await the function; an exception is a failed event with its traceback's tail."""
    try:
        value = await action.fn(*action.args, **action.kwargs)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - user code: any failure is the event's outcome
        return False, None, tail_text("".join(traceback.format_exception(e)))
    return True, None, "" if value is None else tail_text(repr(value))


async def run_action(ev: PlannedEvent, env: Mapping[str, str], tail: Tail,
                     insecure: bool = False) -> Result:
    action = ev.action
    if isinstance(action, Shell):
        return await run_shell(action, env, tail)
    if isinstance(action, HttpCall):
        assert ev.url is not None
        return await run_http(action, ev.url, ev.timeout_s, tail, insecure)
    assert isinstance(action, Call)
    return await run_call(action)
