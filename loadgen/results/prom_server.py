"""The HTTP endpoint of `--out prometheus=HOST:PORT`: prometheus_client's WSGI app on a
small threaded server of our own, bound before the run starts and stopped with it.

Why not `prometheus_client.start_http_server`: it starts a thread per connection with no
limit and no read deadline (a client that connects and sends nothing holds a thread for
ever), and binds through `getfqdn` (a reverse DNS look-up). Here at most
`MAX_CONNECTIONS` requests are served at once (more are closed at once), a client has
`READ_TIMEOUT_S` to send its request, and the address must be an IP literal or
`localhost`, so binding never asks a DNS server.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app

from loadgen.errors import ConfigError

log = logging.getLogger("loadgen")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464  # the port OpenTelemetry's and k6's Prometheus exporters use
MAX_CONNECTIONS = 8
READ_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0


def parse_address(spec: str) -> tuple[str, int]:
    """`prometheus`, `prometheus=PORT`, `prometheus=HOST:PORT`, `prometheus=[V6]:PORT`
    -> (host, port); ConfigError naming what is wrong."""
    target = spec.partition("=")[2].strip()
    host, port_text = DEFAULT_HOST, str(DEFAULT_PORT)
    if target.startswith("["):
        inside, _, rest = target[1:].partition("]")
        host, port_text = inside, rest.removeprefix(":") or port_text
    elif target.count(":") == 1:
        host, port_text = target.split(":")
        host = host or DEFAULT_HOST
    elif target.isdigit():
        port_text = target
    elif target:
        host = target
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"-o {spec}: the port must be a number from 0 to 65535 "
                          f"(0: pick a free one), not {port_text!r}")
    if host == "localhost":
        host = DEFAULT_HOST
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"-o {spec}: {host!r} is not an IP address (give one, e.g. "
                          f"{DEFAULT_HOST}: a host name would need a DNS look-up)") from None
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


class _Handler(WSGIRequestHandler):
    timeout = READ_TIMEOUT_S  # socketserver sets it on the connection: a silent client goes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes are not news (the base writes one stderr line per request)."""


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        """HTTPServer's own asks `getfqdn` for the host's name (a DNS look-up)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: a scraper retries at its next interval
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class PromServer:
    """One bound endpoint serving `registry` until `stop()`."""

    def __init__(self, spec: str, registry: CollectorRegistry) -> None:
        host, port = parse_address(spec)
        try:
            self.httpd = _Server(host, port)
        except OSError as e:
            raise ConfigError(f"-o {spec}: cannot listen on {host}:{port}: "
                              f"{e.strerror or e}") from None
        self.httpd.set_app(make_wsgi_app(registry))
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                       name="loadgen-prometheus", daemon=True)
        self.thread.start()
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/metrics"
        log.info("prometheus output: serving the run's metrics at %s", self.url)
        if not is_loopback(host):
            log.warning("prometheus output: %s is not a loopback address; anyone who can "
                        "reach it can read the run's metrics (names, URLs, tags)", host)

    def stop(self) -> None:
        """Stop serving and free the port (idempotent; waits STOP_TIMEOUT_S at most)."""
        if self.thread.is_alive():
            done = threading.Thread(target=self.httpd.shutdown, daemon=True)
            done.start()
            done.join(STOP_TIMEOUT_S)
        self.httpd.server_close()
