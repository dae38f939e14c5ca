"""Webhook receivers on 127.0.0.1 for the tests: one that takes messages (and keeps them),
one that answers 500 (echoing the path it was given, as some servers do), one that reads the
request and never answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, mode: str) -> None:
        self.mode = mode  # ok | fail | hang
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.url = ""


@contextmanager
def receiver(mode: str = "ok") -> Iterator[Receiver]:
    """A running receiver; its `url` carries a secret-looking path and query."""
    box = Receiver(mode)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(n, 1 << 20))
            box.paths.append(self.path)
            box.headers.append(dict(self.headers))
            if box.mode == "hang":
                box.release.wait(30)  # bounded: the test releases it at its end
                return
            box.messages.append(json.loads(body))
            status = 200 if box.mode == "ok" else 500
            answer = b"ok" if status == 200 else f"no such hook {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    userinfo = "hook:pa55word"  # secrets the output must never show
    box.url = f"http://{userinfo}@127.0.0.1:{port}/services/T000/B000/XSECRETX?token=QSECRETQ"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
