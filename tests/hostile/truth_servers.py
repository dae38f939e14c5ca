"""Loopback targets that tell the truth about a load generator: one that accepts connections
and never answers, one that answers after a pause. Each runs in a thread of the test process
(the CLI under test is a child process) and is bounded: it holds at most `limit` sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_server(limit: int = 256) -> Iterator[str]:
    """Accepts, reads nothing, answers nothing: a dead target behind a live port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(limit)
    srv.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            if len(held) < limit:
                held.append(conn)
            else:
                conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        t.join(timeout=2)
        for c in held:
            c.close()
        srv.close()


@contextmanager
def pausing_server(pause_at_s: float, pause_s: float) -> Iterator[str]:
    """A minimal HTTP/1.1 keep-alive server that answers at once, except that every request
    arriving in [pause_at_s, pause_at_s + pause_s) after the first request waits until the
    pause ends (timed from the first request, so the CLI's start-up time does not matter)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    srv.settimeout(0.1)
    stop = threading.Event()
    first: list[float] = []
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buf = b""
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                if not first:
                    first.append(time.monotonic())
                now = time.monotonic() - first[0]
                if pause_at_s <= now < pause_at_s + pause_s:
                    stop.wait(pause_at_s + pause_s - now)
                try:
                    conn.sendall(reply)
                except OSError:
                    return
        conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        t.join(timeout=2)
        srv.close()
