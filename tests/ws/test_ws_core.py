"""The picows connection's per-message core (net/ws/core.py), its C and Python versions side
by side: frames in, sends out, recv() as asyncio sees it (a message handed to the waiting
reader, a cancellation that keeps it, counting for the session), and a seeded run of mixed
operations whose every observable result must match between the two. picows' transport and
frames are stood in for here (the core reads only their attributes); the real socket path
is tests/ws/test_ws_fast.py and the rest of tests/ws, which `make test` runs both ways."""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc
from typing import Any

import pytest
from picows import WSCloseCode, WSListener, WSMsgType
from picows.common import WSProtocolError
from websockets.exceptions import ConcurrencyError, ConnectionClosed

from loadgen.net.ws import core
from loadgen.net.ws.fast import FastConnection

TEXT, BINARY, CONT, PONG = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION, \
    WSMsgType.PONG

if core.IMPLEMENTATION == "c":
    class PyFast(core.PyCore, FastConnection):  # the Python core ahead of C in the MRO
        __slots__ = ()

    CORES = [pytest.param(PyFast, id="python"), pytest.param(FastConnection, id="c")]
else:  # FastConnection is the Python core already
    CORES = [pytest.param(FastConnection, id="python"),
             pytest.param(FastConnection, id="c",
                          marks=pytest.mark.skip(reason="the C core is not built here"))]


class Frame:
    """What on_ws_frame reads of a picows WSFrame."""

    def __init__(self, mt: WSMsgType, payload: bytes, fin: bool = True) -> None:
        self.msg_type, self.fin, self.payload_size, self.p = mt, fin, len(payload), payload

    def get_payload_as_utf8_text(self) -> str:
        return self.p.decode()

    def get_payload_as_bytes(self) -> bytes:
        return self.p


class Under:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


class Transport:
    """What the core calls on a picows WSTransport."""

    def __init__(self) -> None:
        self.is_close_frame_sent = False
        self.is_disconnected = False
        self.sent: list[tuple[WSMsgType, bytes]] = []
        self.underlying_transport = Under()
        self.close_handshake = None

    def send(self, mt: WSMsgType, data: Any) -> None:
        self.sent.append((mt, bytes(data)))

    def send_close(self, *args: object) -> None:
        self.is_close_frame_sent = True


class Session:
    """What the core reads and calls of the WSSession using the connection."""

    def __init__(self) -> None:
        self.n_recv = 0
        self.next_flush = 10
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self.next_flush += 10

    def lost(self, e: ConnectionClosed) -> Exception:
        return LookupError(f"session lost: {type(e).__name__}")


def conn(cls: type[FastConnection], max_queue: int = 4) -> Any:
    c = cls(None, max_queue, 2**16, 1.0)
    c.t = Transport()
    return c


async def turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.mark.parametrize("cls", CORES)
async def test_a_whole_frame_goes_to_the_waiting_reader_else_to_the_queue(cls: Any) -> None:
    c = conn(cls)
    reader = asyncio.ensure_future(c.recv_fast())
    await turn()
    c.on_ws_frame(c.t, Frame(TEXT, "h\u00e9llo".encode()))
    assert not c.msgs  # handed over, not queued
    assert await reader == "h\u00e9llo"
    c.on_ws_frame(c.t, Frame(BINARY, b"\x00" * 200))
    c.on_ws_frame(c.t, Frame(TEXT, b"x" * 70_000))
    assert list(map(len, c.msgs)) == [200, 70_000]
    assert await c.recv_fast() == b"\x00" * 200
    assert await c.recv_fast() == "x" * 70_000
    assert c.n_in == (6 + 2) + (200 + 4) + (70_000 + 10)  # payloads + frame headers


@pytest.mark.parametrize("cls", CORES)
async def test_a_full_queue_pauses_reading_until_a_quarter_is_left(cls: Any) -> None:
    c = conn(cls, max_queue=4)
    for i in range(4):
        c.on_ws_frame(c.t, Frame(TEXT, str(i).encode()))
    assert c.reading_paused and c.t.underlying_transport.calls == ["pause"]
    assert [await c.recv_fast() for _ in range(2)] == ["0", "1"]
    assert c.reading_paused  # two left: more than a quarter
    assert await c.recv_fast() == "2"
    assert not c.reading_paused and c.t.underlying_transport.calls == ["pause", "resume"]


@pytest.mark.parametrize("cls", CORES)
async def test_text_that_is_not_utf8_is_a_protocol_error_and_counts_nothing(cls: Any) -> None:
    c = conn(cls)
    with pytest.raises(WSProtocolError) as e:
        c.on_ws_frame(c.t, Frame(TEXT, b"ok \xff"))
    assert e.value.args[0] == WSCloseCode.INVALID_TEXT
    assert c.n_in == 0 and not c.msgs


@pytest.mark.parametrize("cls", CORES)
async def test_fragments_and_pongs_take_the_python_path(cls: Any) -> None:
    c = conn(cls)
    c.on_ws_frame(c.t, Frame(TEXT, b"hel", fin=False))
    c.on_ws_frame(c.t, Frame(CONT, b"lo"))
    assert await c.recv_fast() == "hello"
    pong = asyncio.get_running_loop().create_future()
    c.pings.append((b"p1", pong))
    c.on_ws_frame(c.t, Frame(PONG, b"p1"))
    assert pong.done()
    assert c.n_in == (3 + 2) + (2 + 2) + (2 + 2)  # every frame: payload + header
    c.on_ws_frame(c.t, Frame(TEXT, b"a", fin=False))
    with pytest.raises(WSProtocolError):  # a new message inside a fragmented one
        c.on_ws_frame(c.t, Frame(TEXT, b"b"))


@pytest.mark.parametrize("cls", CORES)
async def test_send_now_sends_a_str_at_once_and_refuses_when_anything_blocks(cls: Any) -> None:
    c = conn(cls)
    assert c.send_now("h\u00e9") is True
    assert c.send_now(b"\x01" * 130) is True  # bytes: the Python _write
    assert c.t.sent == [(TEXT, "h\u00e9".encode()), (BINARY, b"\x01" * 130)]
    assert c.n_out == (3 + 6) + (130 + 8)
    for block in ("write_paused", "close_code", "is_close_frame_sent", "is_disconnected"):
        c = conn(cls)
        if block == "write_paused":
            c.write_paused = True
        elif block == "close_code":
            c.close_code = 1000
        else:
            setattr(c.t, block, True)
        assert c.send_now("x") is False, block
        assert c.t.sent == [] and c.n_out == 0
    c = conn(cls)
    c.t = None
    assert c.send_now("x") is False
    with pytest.raises(TypeError, match="str or bytes-like"):
        conn(cls).send_now(42)


@pytest.mark.parametrize("cls", CORES)
async def test_recv_counts_for_the_session_and_flushes_when_due(cls: Any) -> None:
    c = conn(cls)
    s = Session()
    clock = iter([3, 12, 13, 25])
    c.session, c.now = s, lambda: next(clock)
    for i in range(4):
        c.on_ws_frame(c.t, Frame(TEXT, str(i).encode()))
    assert [await c.recv_fast() for _ in range(4)] == ["0", "1", "2", "3"]
    assert s.n_recv == 4 and s.flushes == 2  # at 12 (due at 10) and 25 (due at 20)


@pytest.mark.parametrize("cls", CORES)
async def test_a_closed_connection_raises_the_sessions_error(cls: Any) -> None:
    c = conn(cls)
    c.on_ws_frame(c.t, Frame(TEXT, b"last"))
    c.close_code = 1000
    assert await c.recv_fast() == "last"  # what was queued is still read
    with pytest.raises(ConnectionClosed):
        await c.recv_fast()
    c.session = Session()
    with pytest.raises(LookupError, match="session lost: ConnectionClosed"):
        await c.recv_fast()


@pytest.mark.parametrize("cls", CORES)
async def test_a_wake_without_a_message_looks_again(cls: Any) -> None:
    c = conn(cls)
    reader = asyncio.ensure_future(c.recv_fast())
    await turn()
    c.wake()  # nothing arrived: the reader waits on
    await turn()
    assert not reader.done()
    c.close_code = 1001
    c.wake()
    with pytest.raises(ConnectionClosed):
        await reader


@pytest.mark.parametrize("cls", CORES)
async def test_one_reader_at_a_time(cls: Any) -> None:
    c = conn(cls)
    first = asyncio.ensure_future(c.recv_fast())
    await turn()
    with pytest.raises(ConcurrencyError):
        await c.recv_fast()
    c.on_ws_frame(c.t, Frame(TEXT, b"for the first"))
    assert await first == "for the first"


@pytest.mark.parametrize("cls", CORES)
async def test_a_cancel_that_comes_after_the_message_keeps_it(cls: Any) -> None:
    """The message reached the waiter, then the reader was cancelled before it ran (a
    timeout firing on the next loop turn): the message goes back to the head of the
    queue instead of being lost."""
    c = conn(cls)
    reader = asyncio.ensure_future(c.recv_fast())
    await turn()
    c.on_ws_frame(c.t, Frame(TEXT, b"first"))
    c.on_ws_frame(c.t, Frame(TEXT, b"second"))
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert list(c.msgs) == ["first", "second"]
    assert await c.recv_fast() == "first"


@pytest.mark.parametrize("cls", CORES)
async def test_a_reader_cancelled_while_waiting_leaves_the_next_message_queued(
        cls: Any) -> None:
    c = conn(cls)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.recv_fast(), 0.01)
    c.on_ws_frame(c.t, Frame(TEXT, b"later"))
    assert list(c.msgs) == ["later"]
    assert await asyncio.wait_for(c.recv_fast(), 1) == "later"


@pytest.mark.parametrize("cls", CORES)
async def test_asyncio_takes_recv_for_a_coroutine(cls: Any) -> None:
    c = conn(cls)
    r = c.recv_fast()
    assert asyncio.iscoroutine(r)
    task = asyncio.create_task(r)
    await turn()
    c.on_ws_frame(c.t, Frame(BINARY, b"b"))
    assert await task == b"b"
    with pytest.raises(RuntimeError):  # awaited once, like any coroutine
        await r
    c.on_ws_frame(c.t, Frame(TEXT, b"1"))
    c.on_ws_frame(c.t, Frame(TEXT, b"2"))
    assert await asyncio.gather(c.recv_fast()) == ["1"]
    assert await asyncio.wait_for(c.recv_fast(), 1) == "2"
    unused = c.recv_fast()
    unused.close()  # never awaited: no warning, nothing taken
    assert asyncio.iscoroutine(core.SENT)
    assert await core.SENT is None and await core.SENT is None
    assert await asyncio.create_task(core.SENT) is None  # type: ignore[arg-type]


def test_the_c_core_serves_only_the_class_it_was_bound_to() -> None:
    if core.IMPLEMENTATION != "c":
        pytest.skip("the C core is not built here")
    c_core: Any = core._c

    class Other(c_core.Core, WSListener):  # type: ignore[misc,name-defined]
        pass

    with pytest.raises(TypeError, match="not bound"):
        Other().send_now("x")

    class NoSlots(c_core.Core):  # type: ignore[misc,name-defined]
        t = None

    with pytest.raises(TypeError, match="not a writable object slot"):
        c_core.bind(NoSlots, TEXT, BINARY)
    with pytest.raises(TypeError, match="does not derive from Core"):
        c_core.bind(int, TEXT, BINARY)


async def run_ops(cls: Any, seed: int) -> list[object]:
    """A seeded mix of frames, sends, readers, cancels and loop turns on one connection;
    every observable result, in order."""
    rnd = random.Random(seed)
    c = conn(cls, max_queue=rnd.choice([1, 2, 4, 32]))
    s = Session()
    ticks = iter(range(0, 10**6, 3))
    c.session, c.now = s, lambda: next(ticks)
    out: list[object] = []
    reader: asyncio.Future[Any] | None = None
    for _ in range(60):
        op = rnd.random()
        if op < 0.35:
            mt = rnd.choice([TEXT, TEXT, BINARY])
            size = rnd.choice([0, 1, 5, 125, 126, 300, 65_535, 65_536])
            payload = bytes(rnd.randrange(0x20, 0x7F) for _ in range(min(size, 50))) + \
                b"y" * max(0, size - 50)
            if mt is TEXT and rnd.random() < 0.1:
                payload += b"\xff"
            try:
                c.on_ws_frame(c.t, Frame(mt, payload, fin=rnd.random() < 0.9))
                out.append("frame")
            except WSProtocolError as e:
                out.append(("protocol error", e.args[0]))
                c.parts, c.part_size = None, 0  # picows would close; keep going
        elif op < 0.55:
            if reader is None or reader.done():
                if reader is not None:
                    out.append(("reader", reader.cancelled() or reader.exception() or
                                len(reader.result())))
                reader = asyncio.ensure_future(c.recv_fast())
        elif op < 0.62:
            if reader is not None and not reader.done():
                reader.cancel()
        elif op < 0.8:
            msg: Any = rnd.choice(["s" * rnd.choice([1, 200]), b"b" * 3, "\u00e9"])
            if rnd.random() < 0.1:
                c.write_paused = not c.write_paused
            out.append(("send", c.send_now(msg)))
        else:
            await turn()
            out.append("turn")
        out.append((len(c.msgs), c.n_in, c.n_out, c.reading_paused, s.n_recv, s.flushes,
                    len(c.t.sent)))
    await turn()
    if reader is not None:
        if not reader.done():
            reader.cancel()
            await turn()
        out.append(("last reader", reader.cancelled() or len(reader.result())))
    out.append(list(c.msgs))
    return out


@pytest.mark.skipif(core.IMPLEMENTATION != "c", reason="the C core is not built here")
async def test_seeded_mixes_of_operations_give_the_same_results_in_c_and_python() -> None:
    for seed in range(150):
        py = await run_ops(PyFast, seed)
        c = await run_ops(FastConnection, seed)
        assert c == py, f"seed {seed}"


@pytest.mark.skipif(core.IMPLEMENTATION != "c", reason="the C core is not built here")
async def test_the_c_core_keeps_no_memory_per_message() -> None:
    """A reference leaked per frame, send or recv would grow by ~100 bytes a message."""
    c = conn(FastConnection, max_queue=10**6)

    async def cycle(n: int) -> None:
        for i in range(n):
            c.on_ws_frame(c.t, Frame(TEXT, b"m%d" % (i % 10)))
            c.send_now("pong")
            await c.recv_fast()
            r = asyncio.ensure_future(c.recv_fast())
            await asyncio.sleep(0)
            c.on_ws_frame(c.t, Frame(BINARY, b"b"))
            await r
        c.t.sent.clear()

    await cycle(2_000)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    await cycle(20_000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 200_000, f"{grown:,} bytes after 20,000 messages"
