"""Workers over TCP: the coordinator listens (`loadgen run FILE --workers N --listen
HOST:PORT`), workers on other machines or pods connect (`loadgen worker --connect HOST:PORT
--index I`), and from then on both sides speak the same frames as over a pipe.

Joining is a short handshake before the fleet starts, each step bounded:

    worker -> hello {index, token}        (at most HELLO_MAX bytes: a stray client cannot
    coord  -> welcome | rejected {why}     make the coordinator read 64 MiB)
    worker -> ping {n}  coord -> pong {n, wall_ns, mono_ns}      PINGS times
    worker -> clock {offset_ns, rtt_ns}    (its measured offset, reported by the coordinator)

A wrong token, an index outside 0..N-1 or an index already connected is rejected with a
log line naming the peer; the coordinator keeps waiting for the real workers until its join
deadline. Across machines CLOCK_MONOTONIC is not shared, so the worker translates the
coordinator's times (origin, T0) through wall clocks: the offset is estimated as NTP does,
from the exchange with the smallest round trip (coordinator wall time minus the midpoint
of the worker's send and receive), good to half that round trip.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import socket
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loadgen.errors import ConfigError
from loadgen.fleet.fleet import FleetError
from loadgen.fleet.wire import WireError, encode, read_frame

log = logging.getLogger("loadgen")
HELLO_MAX = 64 * 1024  # handshake frames are tiny; a bigger one is a stray client
HANDSHAKE_S = 10.0  # a connection that does not finish its handshake in time is dropped
PINGS = 5
FAR_OFF_NS = 1_000_000_000  # a clock further off than this is reported
TOKEN_ENV = "LOADGEN_FLEET_TOKEN"
SCRIPT_MAX = 16 * 2**20  # the script's bytes ride in the config frame up to this size
MAX_PENDING = 64  # handshakes in progress at once; more connections are closed at once
_LEN = struct.Struct(">I")


def keepalive(writer: asyncio.StreamWriter) -> None:
    """A peer whose machine vanishes (no FIN) is noticed in ~25 s, not the kernel's 2 h:
    waits for the next order have no other deadline."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def parse_address(value: str, flag: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:PORT); ConfigError naming the flag otherwise."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{flag} {value!r}: expected HOST:PORT with a port in 1..65535")
    return host, int(port)


async def read_small(reader: asyncio.StreamReader, within_s: float) -> dict[str, Any] | None:
    """One handshake frame, bounded in size and time (WireError / TimeoutError otherwise)."""
    async def one() -> dict[str, Any] | None:
        try:
            head = await reader.readexactly(_LEN.size)
        except asyncio.IncompleteReadError:
            return None
        (n,) = _LEN.unpack(head)
        if n > HELLO_MAX:
            raise WireError(f"handshake frame of {n} bytes (at most {HELLO_MAX})")
        try:
            msg = orjson.loads(await reader.readexactly(n))
        except (asyncio.IncompleteReadError, orjson.JSONDecodeError):
            raise WireError("a handshake frame that is not JSON") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("t"), str):
            raise WireError("a handshake frame that is not a message")
        return msg
    return await asyncio.wait_for(one(), within_s)


class SocketLink:
    """One connected worker, with ProcessLink's methods (see fleet.Link)."""

    def __init__(self, index: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: str) -> None:
        self.index = index
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.offset_ns = 0
        self.rtt_ns = 0
        self.closed = asyncio.Event()

    @property
    def name(self) -> str:
        return f"worker {self.index} ({self.peer})"

    def send(self, frame: bytes) -> bool:
        if self.closed.is_set() or self.writer.is_closing():
            return False
        if self.writer.transport.get_write_buffer_size() > 2 * len(frame) + 2**26:
            return False  # it stopped reading: its frames would pile up here without bound
        self.writer.write(frame)
        return True

    async def receive(self) -> dict[str, Any] | None:
        try:
            msg = await read_frame(self.reader)
        except (ConnectionError, WireError):
            self.closed.set()
            raise WireError("the connection broke") from None
        if msg is None:
            self.closed.set()
        return msg

    def kill(self) -> None:
        self.writer.transport.abort()
        self.closed.set()

    async def wait(self, within_s: float) -> int | None:
        """0 once its connection is closed; None if it is still open after `within_s`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), within_s)
            return 0
        return None

    def describe_exit(self) -> str:
        return ("its connection closed before it said it was done" if self.closed.is_set()
                else "still connected")

    def close(self) -> None:
        """Half-close: the worker reads the end of its orders and stops; its last frames
        still arrive."""
        if not self.writer.is_closing() and self.writer.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write_eof()

    def clock_warning(self) -> str | None:
        if abs(self.offset_ns) <= FAR_OFF_NS:
            return None
        return (f"{self.name}: its clock is {self.offset_ns / 1e9:+.3f} s off the "
                f"coordinator's (measured ±{self.rtt_ns / 2e6:.1f} ms); its start time was "
                "corrected by that offset, but check the machine's time sync")


@dataclass
class Listener:
    """Waits for N workers to join; `links()` returns them ordered by index."""

    host: str
    port: int
    workers: int
    token: str

    def __post_init__(self) -> None:
        self.joined: dict[int, SocketLink] = {}
        self.pending = 0
        self.all_joined = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def open(self) -> None:
        try:
            self.server = await asyncio.start_server(self._handshake, self.host, self.port,
                                                     limit=2**16)
        except OSError as e:
            raise ConfigError(f"--listen {self.host}:{self.port}: cannot listen there "
                              f"({e.strerror or e}); is another coordinator running? "
                              "choose another port") from None

    async def links(self, deadline_s: float) -> list[SocketLink]:
        """Every worker joined within `deadline_s`, else a ConfigError naming who did not."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_joined.wait(), deadline_s)
        self.stop()
        missing = [i for i in range(self.workers) if i not in self.joined]
        if missing:
            for link in self.joined.values():
                link.kill()
            raise FleetError(f"worker(s) {', '.join(map(str, missing))} did not connect to "
                             f"{self.host}:{self.port} within {deadline_s:g} s")
        return [self.joined[i] for i in range(self.workers)]

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handshake(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        if self.pending >= MAX_PENDING:
            log.warning("rejected a connection from %s: %d handshakes already in progress",
                        peer, MAX_PENDING)
            writer.transport.abort()
            return
        self.pending += 1
        try:
            link = await asyncio.wait_for(self._join(reader, writer, peer), HANDSHAKE_S)
        except (TimeoutError, WireError, ConnectionError, KeyError, TypeError, ValueError) as e:
            why = "no handshake in time" if isinstance(e, TimeoutError) else str(e)
            log.warning("rejected a connection from %s: %s", peer, why)
            writer.transport.abort()
            return
        finally:
            self.pending -= 1
        if link is None:
            return
        if self.all_joined.is_set() or link.index in self.joined:  # raced: checked again
            self._reject(writer, peer, f"worker index {link.index} is already connected")
            return
        self.joined[link.index] = link
        log.info("%s joined (clock offset %+.1f ms, round trip %.1f ms)", link.name,
                 link.offset_ns / 1e6, link.rtt_ns / 1e6)
        if (warning := link.clock_warning()) is not None:
            log.warning("%s", warning)
        if len(self.joined) == self.workers:
            self.all_joined.set()

    async def _join(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    peer: str) -> SocketLink | None:
        hello = await read_small(reader, HANDSHAKE_S)
        if hello is None or hello["t"] != "hello":
            raise WireError("it did not say hello")
        token, index = str(hello.get("token", "")), hello.get("index")
        why = None
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            why = "wrong token"
        elif not isinstance(index, int) or not 0 <= index < self.workers:
            why = f"worker index {index!r} is outside 0..{self.workers - 1}"
        elif index in self.joined:
            why = f"worker index {index} is already connected (from {self.joined[index].peer})"
        if why is not None:
            self._reject(writer, peer, why)
            return None
        assert isinstance(index, int)
        writer.write(encode({"t": "welcome"}))
        for _ in range(PINGS):
            ping = await read_small(reader, HANDSHAKE_S)
            if ping is None or ping["t"] != "ping":
                raise WireError("the clock exchange broke off")
            writer.write(encode({"t": "pong", "n": ping.get("n"), "wall_ns": time.time_ns(),
                                 "mono_ns": time.perf_counter_ns()}))
        clock = await read_small(reader, HANDSHAKE_S)
        if clock is None or clock["t"] != "clock":
            raise WireError("it did not report its clock")
        keepalive(writer)
        link = SocketLink(index, reader, writer, peer)
        link.offset_ns, link.rtt_ns = int(clock["offset_ns"]), int(clock["rtt_ns"])
        return link

    def _reject(self, writer: asyncio.StreamWriter, peer: str, why: str) -> None:
        log.warning("rejected a worker connection from %s: %s", peer, why)
        with contextlib.suppress(OSError, WireError):
            writer.write(encode({"t": "rejected", "why": why}))
        writer.close()


# -- the worker's side ------------------------------------------------------------------------
@dataclass
class ClockSync:
    """What the worker learnt: the coordinator's wall clock minus its own (offset_ns), and
    `shift_ns` to add to a coordinator CLOCK_MONOTONIC time to get the worker's own."""

    offset_ns: int
    rtt_ns: int
    shift_ns: int


def estimate(samples: list[tuple[int, int, int, int, int]]) -> ClockSync:
    """Samples of (t1 sent, t4 received, coordinator wall, coordinator mono, our wall
    minus our mono): NTP's offset from the exchange with the smallest round trip."""
    t1, t4, cw, cm, local_delta = min(samples, key=lambda s: s[1] - s[0])
    offset = cw - (t1 + t4) // 2
    # coordinator mono X -> its wall X + (cw - cm) -> our wall - offset -> our mono
    return ClockSync(offset, t4 - t1, (cw - cm) - offset - local_delta)


async def connect(host: str, port: int, index: int, token: str, within_s: float,
                  wall_ns: Any = time.time_ns,
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, ClockSync]:
    """Connect (retrying until `within_s`: the coordinator's pod may start later), join, and
    measure the clock. ConfigError on a rejection or when nobody answers in time."""
    deadline = time.monotonic() + within_s
    last = ""
    while True:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=2**16), 5.0)
            break
        except (OSError, TimeoutError) as e:
            last = str(e) or type(e).__name__
        if time.monotonic() > deadline:
            raise ConfigError(f"--connect {host}:{port}: no coordinator answered within "
                              f"{within_s:g} s ({last})")
        await asyncio.sleep(0.5)
    keepalive(writer)
    writer.write(encode({"t": "hello", "index": index, "token": token}))
    try:
        answer = await read_small(reader, HANDSHAKE_S)
        if answer is not None and answer["t"] == "rejected":
            raise ConfigError(f"the coordinator at {host}:{port} rejected worker {index}: "
                              f"{answer.get('why')}")
        if answer is None or answer["t"] != "welcome":
            raise ConfigError(f"the coordinator at {host}:{port} closed the connection "
                              f"during the handshake (is it another program?)")
        samples = []
        for n in range(PINGS):
            t1 = wall_ns()
            writer.write(encode({"t": "ping", "n": n}))
            pong = await read_small(reader, HANDSHAKE_S)
            t4 = wall_ns()
            if pong is None or pong["t"] != "pong":
                raise ConfigError(f"the coordinator at {host}:{port} broke off the clock "
                                  "exchange")
            samples.append((t1, t4, int(pong["wall_ns"]), int(pong["mono_ns"]),
                            wall_ns() - time.perf_counter_ns()))
    except (TimeoutError, WireError, ConnectionError) as e:
        writer.close()
        raise ConfigError(f"the coordinator at {host}:{port} did not complete the handshake "
                          f"({e or type(e).__name__})") from None
    sync = estimate(samples)
    writer.write(encode({"t": "clock", "offset_ns": sync.offset_ns, "rtt_ns": sync.rtt_ns}))
    return reader, writer, sync


def script_payload(path: str) -> dict[str, Any] | None:
    """The scenario file's bytes for the config frame (a worker without the same file, or
    with another version of it, is told so); None when too big to ship."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if len(data) > SCRIPT_MAX:
        return None
    return {"name": Path(path).name, "sha256": hashlib.sha256(data).hexdigest(),
            "b64": base64.b64encode(data).decode()}


def materialize(msg: dict[str, Any]) -> dict[str, Any]:
    """The worker's config with a script path it can load: the same path when it holds the
    same bytes (a mounted ConfigMap, so files beside it resolve), else the shipped bytes in
    a private temporary folder. ConfigError when the local file differs from the
    coordinator's."""
    script = msg.get("script")
    if not script:
        return msg
    kw = dict(msg["kw"])
    path = Path(str(kw.get("file", "")))
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != script["sha256"]:
            raise ConfigError(f"{path} on this worker differs from the coordinator's "
                              f"(sha256 {digest[:12]}… vs {str(script['sha256'])[:12]}…): "
                              "mount the same scenario file everywhere")
        return msg
    folder = Path(tempfile.mkdtemp(prefix="loadgen-worker-"))
    target = folder / os.path.basename(str(script["name"]))
    data = base64.b64decode(script["b64"])
    if hashlib.sha256(data).hexdigest() != script["sha256"]:
        raise ConfigError("the scenario file arrived damaged (sha256 mismatch)")
    target.write_bytes(data)
    kw["file"] = str(target)
    return {**msg, "kw": kw}
