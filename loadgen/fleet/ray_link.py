"""Workers placed by Ray: `loadgen run FILE --workers N --ray [ADDRESS]`.

Each worker is a Ray actor that starts `python -m loadgen.fleet.worker` as its own child
process and relays the bytes of its stdin and stdout, so the worker, the frames and the
coordinator's `Fleet` are exactly those of a local run: `RayLink` is one more Link. The
scenario file travels through Ray (its bytes in the actor's constructor, written to a
temporary directory on the actor's node, the config frame's path rewritten), so a remote
node needs loadgen installed but no copy of the test.

Times in the frames are the run clock's nanoseconds (CLOCK_MONOTONIC), which only agree
between processes of one machine. For an actor on another node the link measures that
node's clock offset once (half a round trip of error) and shifts `go` and `started`.

Ray is an optional dependency (`pip install 'loadgen[ray]'`): it is imported only here, and
only when --ray is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from loadgen.errors import ConfigError
from loadgen.fleet.local import describe_returncode
from loadgen.fleet.sizing import MAX_WORKERS, is_loopback
from loadgen.fleet.wire import MAX_FRAME, encode, read_frame

CHUNK = 2**20  # bytes per relay call; a frame is at most MAX_FRAME, so a buffer's bound
SEND_QUEUE = 64  # frames waiting to reach an actor (a run sends four or five)
PLACE_DEADLINE_S = 60.0  # Ray start-up, placing N actors, each starting its process
KILL_GRACE_S = 2.0  # after asking the actor to kill its worker, the actor itself goes
#: variables a scenario reads from its environment that a remote node would lack
SHIPPED_ENV = ("BASE_URL",)


def import_ray() -> Any:
    """Ray, or a ConfigError (exit 104) saying how to install it."""
    try:  # untyped on purpose: mypy runs the same with or without Ray installed
        ray = importlib.import_module("ray")
    except ImportError as e:
        raise ConfigError(f"--ray needs Ray, which cannot be imported here ({e}); install it "
                          "with: pip install 'loadgen[ray]'") from None
    return ray


def reachable(address: str) -> list[str]:
    """A cluster address that refuses connections is a problem now, not after Ray's own
    connection retries (minutes). Only `host:port` and `ray://host:port` are checked."""
    if address in ("local", "auto"):
        return []
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        return [f"--ray {address}: expected a cluster address HOST:PORT (or ray://HOST:PORT, "
                "auto), or --ray alone for a local Ray"]
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5.0).close()
    except OSError as e:
        return [f"--ray {address}: cannot reach the Ray cluster there ({e})"]
    return []


def park_in_daemon_thread(fn: Callable[[], None], deadline_s: float) -> bool:
    """`fn` in a daemon thread that then stays parked (as in_daemon_thread), waited for
    from synchronous code: True once it returned (its error re-raised), False when it did
    not within `deadline_s`."""
    done = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - re-raised in the waiting thread
            errors.append(e)
        done.set()
        threading.Event().wait()  # Ray's processes live as long as their starting thread

    threading.Thread(target=body, name="loadgen-ray-init", daemon=True).start()
    if not done.wait(deadline_s):
        return False
    if errors:
        raise errors[0]
    return True


async def in_daemon_thread(fn: Callable[[], None], deadline_s: float) -> None:
    """`fn` in a daemon thread, awaited with a deadline: a Ray call that never returns must
    neither hold the run nor keep the process alive at exit (asyncio.to_thread would). The
    thread stays (parked) until the process ends."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def body() -> None:
        error: BaseException | None = None
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - handed to the awaiting coroutine
            error = e
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, error)
        # Ray ties the processes it starts to the life of the *thread* that started them
        # (PR_SET_PDEATHSIG): this thread must outlive the run, so it never returns
        threading.Event().wait()

    threading.Thread(target=body, name="loadgen-ray-init", daemon=True).start()
    await asyncio.wait_for(done, deadline_s)


class RelayActor:
    """Runs on a Ray node: one worker process, and its pipes relayed as bytes."""

    def __init__(self, file_name: str | None, file_bytes: bytes | None,
                 env: dict[str, str]) -> None:
        """Runs on the actor's node: the scenario file lands in a directory of its own."""
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="loadgen-ray-")
        self.path: str | None = None
        if file_name is not None and file_bytes is not None:
            self.path = str(Path(self.dir) / file_name)
            Path(self.path).write_bytes(file_bytes)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> dict[str, Any]:
        ray = import_ray()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadgen.fleet.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, start_new_session=True, cwd=self.dir,
            env={**os.environ, **self.env})
        return {"node": ray.util.get_node_ip_address(),
                "node_id": ray.get_runtime_context().get_node_id(),
                "pid": self.proc.pid, "file": self.path}

    def clock_ns(self) -> int:
        return time.perf_counter_ns()  # RealClock's clock

    async def send(self, data: bytes) -> bool:
        assert self.proc is not None and self.proc.stdin is not None
        stdin = self.proc.stdin
        if stdin.is_closing() or self.proc.returncode is not None:
            return False
        try:
            stdin.write(data)
            await asyncio.wait_for(stdin.drain(), 5.0)
        except (OSError, RuntimeError, TimeoutError):
            return False
        return True

    async def read(self) -> bytes:
        """The next bytes the worker wrote; b"" once its stdout is closed."""
        assert self.proc is not None and self.proc.stdout is not None
        return await self.proc.stdout.read(CHUNK)

    def close_stdin(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()

    def kill_child(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def wait(self, within_s: float) -> int | None:
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            code = await asyncio.wait_for(self.proc.wait(), within_s)
            shutil.rmtree(self.dir, ignore_errors=True)
            return code
        return None


class RayLink:
    """The coordinator's end of one actor: the same methods as ProcessLink."""

    def __init__(self, index: int, actor: Any, info: dict[str, Any], offset_ns: int) -> None:
        self.index = index
        self.actor = actor
        self.info = info
        self.offset_ns = offset_ns  # the actor's run clock minus the coordinator's
        self.buffer = bytearray()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(SEND_QUEUE)
        self.pump = asyncio.ensure_future(self._pump())
        self.returncode: int | None = None
        self.actor_died: str | None = None
        self.killer: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"worker {self.index} (Ray actor on {self.info['node']}, pid {self.info['pid']})"

    # -- to the worker ----------------------------------------------------------------------
    def send(self, frame: bytes) -> bool:
        """Queue a frame (in order, one actor call at a time); False once it cannot go."""
        if self.actor_died is not None or self.pump.done():
            return False
        try:
            self.queue.put_nowait(self._rewrite(frame))
        except asyncio.QueueFull:
            return False
        return True

    def _rewrite(self, frame: bytes) -> bytes:
        """The scenario's path on the actor's node; `go` times on the actor's clock."""
        msg = orjson.loads(frame[4:])
        if msg.get("t") == "config" and self.info.get("file"):
            msg["kw"] = {**msg["kw"], "file": self.info["file"]}
        elif msg.get("t") == "go" and self.offset_ns:
            msg["origin_ns"] = int(msg["origin_ns"]) + self.offset_ns
            msg["t0_ns"] = int(msg["t0_ns"]) + self.offset_ns
        else:
            return frame
        return encode(msg)

    async def _pump(self) -> None:
        ray = import_ray()
        while (frame := await self.queue.get()) is not None:
            try:
                if not await self.actor.send.remote(frame):
                    return
            except ray.exceptions.RayError as e:
                self._died(e)
                return
        with contextlib.suppress(ray.exceptions.RayError):
            await self.actor.close_stdin.remote()

    # -- from the worker --------------------------------------------------------------------
    async def receive(self) -> dict[str, Any] | None:
        """The next frame, decoded by the same reader a local link uses (same bounds)."""
        ray = import_ray()
        while (need := self._frame_size()) is None or len(self.buffer) < need:
            try:
                chunk = await self.actor.read.remote()
            except ray.exceptions.RayError as e:
                self._died(e)
                chunk = b""
            if not chunk:
                break
            self.buffer += chunk
        reader = asyncio.StreamReader(limit=MAX_FRAME + 8)
        need = self._frame_size() or len(self.buffer)
        reader.feed_data(bytes(self.buffer[:need]))
        reader.feed_eof()
        del self.buffer[:need]
        msg = await read_frame(reader)  # WireError: over the bound, cut off, not JSON
        if msg is not None and msg.get("t") == "started" and self.offset_ns:
            msg["at_ns"] = int(msg["at_ns"]) - self.offset_ns
        return msg

    def _frame_size(self) -> int | None:
        if len(self.buffer) < 4:
            return None
        n = int.from_bytes(self.buffer[:4], "big")
        return 4 if n > MAX_FRAME else 4 + n  # an oversized header fails in read_frame at once

    # -- the end ----------------------------------------------------------------------------
    def kill(self) -> None:
        """The worker process first (so nothing is left on the node), then the actor."""
        if self.killer is None:
            self.killer = asyncio.ensure_future(self._kill())

    async def _kill(self) -> None:
        ray = import_ray()
        with contextlib.suppress(ray.exceptions.RayError, TimeoutError):
            await asyncio.wait_for(self.actor.kill_child.remote(), KILL_GRACE_S)
            await asyncio.wait_for(self.actor.wait.remote(KILL_GRACE_S), KILL_GRACE_S + 1)
        if self.returncode is None:
            self.returncode = -signal.SIGKILL
        # the actor may be gone already (or Ray shut down under us): nothing left to end
        with contextlib.suppress(Exception):
            ray.kill(self.actor, no_restart=True)

    async def wait(self, within_s: float) -> int | None:
        if self.killer is not None and not self.killer.done():
            # a kill in progress finishes before the launcher may shut Ray down under it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.killer), within_s)
        if self.returncode is not None or self.actor_died is not None:
            return self.returncode if self.returncode is not None else -signal.SIGKILL
        ray = import_ray()
        try:
            code = await asyncio.wait_for(self.actor.wait.remote(within_s), within_s + 2.0)
        except TimeoutError:
            return None
        except ray.exceptions.RayError as e:
            self._died(e)
            return -signal.SIGKILL
        if code is not None:
            self.returncode = int(code)
        return self.returncode

    def _died(self, e: BaseException) -> None:
        if self.actor_died is None:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            self.actor_died = f"its Ray actor died ({type(e).__name__}: {first[:200]})"

    def describe_exit(self) -> str:
        if self.actor_died is not None:
            return self.actor_died
        return describe_returncode(self.returncode)

    def close(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class RayLauncher:
    """Connects to Ray (or starts a local one), places N actors, and disconnects at the end."""

    def __init__(self, address: str, file: str | None, file_bytes: bytes | None) -> None:
        self.address = address
        self.file = file
        self.file_bytes = file_bytes
        self.started_ray = False
        where = "a local Ray" if address == "local" else f"the Ray cluster at {address}"
        self.kind = f"Ray actors on {where}"

    @classmethod
    def from_cli(cls, address: str, workers: str | None, file: str | None) -> RayLauncher:
        """Checks what can be checked before the run: Ray importable, --workers, the file."""
        problems = []
        try:
            import_ray()
        except ConfigError as e:
            problems += e.problems
        problems += reachable(address)
        if workers is None:
            problems.append("--ray places the workers of a --workers run: give --workers N "
                            "(how many Ray actors to start)")
        data = None
        if file is not None:
            try:
                data = Path(file).read_bytes()
            except OSError as e:
                problems.append(f"cannot read the scenario file to ship to Ray: {e}")
            if data is not None and len(data) > MAX_FRAME:
                problems.append(f"the scenario file is over {MAX_FRAME} bytes")
        if problems:
            raise ConfigError(problems)
        return cls(address, file, data)

    def auto_workers(self, targets: list[str | None]) -> tuple[int, str]:
        """`--workers auto` on Ray: the cluster's CPUs (`ray.cluster_resources()`), not this
        machine's cores; on a local Ray, one fewer for a loopback target (it shares the
        machine). Connects now (the start then reuses the connection); ConfigError when Ray
        does not answer within PLACE_DEADLINE_S or reports no CPU."""
        ray = import_ray()
        where = "a local Ray" if self.address == "local" else f"the Ray cluster at {self.address}"
        if not park_in_daemon_thread(lambda: self._init(ray, None), PLACE_DEADLINE_S):
            raise ConfigError(f"--workers auto: {where} did not answer within "
                              f"{PLACE_DEADLINE_S:g} s")
        try:
            cpus = int(float(ray.cluster_resources().get("CPU", 0)))
        except (ray.exceptions.RayError, ConnectionError, RuntimeError, ValueError,
                TypeError) as e:
            raise ConfigError(f"--workers auto: cannot read the CPUs of {where}: {e}") from None
        if cpus < 1:
            raise ConfigError(f"--workers auto: {where} reports no CPU to place workers on")
        why = f"auto: {cpus} CPU(s) of {where}"
        local = next((t for t in targets if is_loopback(t)), None)
        if self.address == "local" and local is not None and cpus > 1:
            cpus -= 1
            why += f", one left to the loopback target {urlsplit(local).hostname}"
        return min(cpus, MAX_WORKERS), why

    async def start(self, n: int, now_ns: Any) -> list[Any]:
        ray = import_ray()
        try:
            try:
                if not self.started_ray:
                    await in_daemon_thread(lambda: self._init(ray, n), PLACE_DEADLINE_S)
            except TimeoutError:
                where = "a local Ray" if self.address == "local" else self.address
                raise ConfigError(f"Ray could not start or connect to {where} within "
                                  f"{PLACE_DEADLINE_S:g} s") from None
            return await asyncio.wait_for(self._place(ray, n, now_ns), PLACE_DEADLINE_S)
        except TimeoutError:
            raise ConfigError(f"Ray could not start {n} worker actor(s) within "
                              f"{PLACE_DEADLINE_S:g} s (each needs 1 CPU of the cluster; "
                              "see `ray status`)") from None
        except (ray.exceptions.RayError, ConnectionError, RuntimeError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ConfigError(f"Ray could not start the workers: {first[:300]}") from None

    def _init(self, ray: Any, n: int | None) -> None:
        """`n`: the CPUs of a local Ray (None: Ray counts this machine's)."""
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):  # Ray's start-up lines are not results
            if self.address == "local":
                ray.init(num_cpus=n, include_dashboard=False, logging_level=logging.ERROR)
            else:
                ray.init(address=self.address, logging_level=logging.ERROR)
        self.started_ray = True

    async def _place(self, ray: Any, n: int, now_ns: Any) -> list[Any]:
        actor_cls = ray.remote(num_cpus=1)(RelayActor)
        name = Path(self.file).name if self.file else None
        env = {k: os.environ[k] for k in SHIPPED_ENV if k in os.environ}
        actors = [actor_cls.remote(name, self.file_bytes, env) for _ in range(n)]
        infos = await asyncio.gather(*(a.start.remote() for a in actors))
        here = ray.get_runtime_context().get_node_id()
        links = []
        for i, (actor, info) in enumerate(zip(actors, infos, strict=True)):
            offset = 0
            if info["node_id"] != here:
                before = now_ns()
                theirs = await actor.clock_ns.remote()
                offset = theirs - (before + now_ns()) // 2
            links.append(RayLink(i, actor, info, offset))
        return links

    def shutdown(self) -> None:
        """Disconnect (a local Ray started here stops; the run's actors go with it)."""
        if self.started_ray:
            with contextlib.suppress(Exception):
                import_ray().shutdown()
