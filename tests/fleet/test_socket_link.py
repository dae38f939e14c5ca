"""The TCP link's pieces in one process: the join handshake and clock measurement over a
real loopback socket (with a worker whose wall clock is made to run 5 s late), NTP's
choice of sample, the scenario file shipped or checked by sha256, and the pod dispatch."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
from pathlib import Path

import pytest

from loadgen.commands.k8s import pod_command
from loadgen.errors import ConfigError
from loadgen.fleet.fleet import FleetError
from loadgen.fleet.socket_link import Listener, connect, estimate, materialize, script_payload

LATE_NS = 5_000_000_000


async def shut(listener: Listener, *writers: asyncio.StreamWriter) -> None:
    """Close the client ends and wait (bounded) until the server side has let go of every
    socket, so none is left for the garbage collector to complain about."""
    for w in writers:
        w.close()
    for w in writers:
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(w.wait_closed(), 2.0)
    for link in listener.joined.values():
        link.kill()
    listener.stop()
    for _ in range(200):
        if listener.pending == 0:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)  # the aborted transports close on the next loop turn


async def test_a_late_clock_is_measured_reported_and_corrected():
    listener = Listener("127.0.0.1", 0, 1, "tok")
    await listener.open()
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    joining = asyncio.ensure_future(listener.links(5.0))
    reader, writer, sync = await connect("127.0.0.1", port, 0, "tok", 5.0,
                                         wall_ns=lambda: time.time_ns() - LATE_NS)
    (link,) = await joining
    # the coordinator's wall clock is 5 s ahead of this worker's
    assert abs(sync.offset_ns - LATE_NS) < 50_000_000
    assert link.offset_ns == sync.offset_ns and link.rtt_ns == sync.rtt_ns >= 0
    warning = link.clock_warning()
    assert warning is not None and "+5.0" in warning and "worker 0" in warning
    # both sides share CLOCK_MONOTONIC here: once corrected, T0 maps to itself
    assert abs(sync.shift_ns) < 50_000_000
    await shut(listener, writer)


async def test_a_clock_in_step_is_not_reported():
    listener = Listener("127.0.0.1", 0, 1, "tok")
    await listener.open()
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    joining = asyncio.ensure_future(listener.links(5.0))
    _, writer, _ = await connect("127.0.0.1", port, 0, "tok", 5.0)
    (link,) = await joining
    assert link.clock_warning() is None
    await shut(listener, writer)


async def test_workers_that_never_come_are_named():
    listener = Listener("127.0.0.1", 0, 2, "tok")
    await listener.open()
    with pytest.raises(FleetError, match=r"worker\(s\) 0, 1 did not connect .* within 0.2 s"):
        await listener.links(0.2)


async def test_a_stray_client_sending_a_huge_frame_is_dropped_unread():
    listener = Listener("127.0.0.1", 0, 1, "tok")
    await listener.open()
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((60 * 2**20).to_bytes(4, "big") + b"x" * 1000)
    assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed, not buffering 60 MiB
    assert listener.joined == {}
    await shut(listener, writer)


def test_the_sample_with_the_shortest_round_trip_wins():
    # (sent, received, coordinator wall, coordinator mono, our wall - our mono)
    slow = (0, 400, 1_000_300, 300, 0)  # asymmetric delay: would say 1,000,100
    fast = (1000, 1010, 1_001_005, 1005, 0)
    sync = estimate([slow, fast])
    assert sync.offset_ns == 1_000_000 and sync.rtt_ns == 10
    assert sync.shift_ns == 1_000_000 - 1_000_000  # coordinator mono 1005 is our mono 1005


def _config(path: str, data: bytes) -> dict:
    return {"t": "config", "kw": {"file": path}, "script": {
        "name": "s.py", "sha256": hashlib.sha256(data).hexdigest(),
        "b64": base64.b64encode(data).decode()}}


def test_the_same_mounted_file_is_used_in_place(tmp_path: Path):
    p = tmp_path / "s.py"
    p.write_bytes(b"A = 1\n")
    msg = _config(str(p), b"A = 1\n")
    assert materialize(msg)["kw"]["file"] == str(p)
    assert script_payload(str(p)) == msg["script"]


def test_a_missing_file_is_written_from_the_shipped_bytes(tmp_path: Path):
    out = materialize(_config(str(tmp_path / "absent" / "s.py"), b"A = 2\n"))
    assert Path(out["kw"]["file"]).read_bytes() == b"A = 2\n"
    assert Path(out["kw"]["file"]).name == "s.py"


def test_a_different_local_file_is_refused(tmp_path: Path):
    p = tmp_path / "s.py"
    p.write_bytes(b"A = 1\n")
    with pytest.raises(ConfigError, match="differs from the coordinator's"):
        materialize(_config(str(p), b"A = 999\n"))


def test_the_pod_index_picks_coordinator_or_worker():
    env = {"LOADGEN_LISTEN": "127.0.0.1:7000", "LOADGEN_COORDINATOR": "svc:7000"}
    coord = pod_command("/m/s.py", 2, ["-q"], {**env, "JOB_COMPLETION_INDEX": "0"})
    assert coord[-7:] == ["run", "/m/s.py", "--workers", "2", "--listen", "127.0.0.1:7000",
                          "-q"]
    w = pod_command("/m/s.py", 2, ["-q"], {**env, "JOB_COMPLETION_INDEX": "2"})
    assert w[-6:] == ["worker", "--connect", "svc:7000", "--index", "1", "--exit-0-when-done"]
    for bad in ("", "3", "x"):
        with pytest.raises(ConfigError, match="JOB_COMPLETION_INDEX"):
            pod_command("/m/s.py", 2, [], {**env, "JOB_COMPLETION_INDEX": bad})


async def test_silent_connections_beyond_the_bound_are_closed_at_once():
    listener = Listener("127.0.0.1", 0, 1, "tok")
    await listener.open()
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(64)]
    for _ in range(200):  # the server accepts them on this loop: at most 2 s
        if listener.pending == 64:
            break
        await asyncio.sleep(0.01)
    assert listener.pending == 64
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 2.0) == b""  # not held for 10 s
    await shut(listener, writer, *(w for _, w in silent))
