"""The WebSocket pieces everything else shares: limits, errors, the URL rule, and the metric
handles a client and its sessions record into. (The connection subclass that counts wire
bytes lives with the other websockets internals, in internals.py.)"""

from __future__ import annotations

from loadgen.errors import LoadgenError
from loadgen.metrics.model import Contains, Metric, MetricType
from loadgen.metrics.registry import Registry

FLUSH_NS = 1_000_000_000  # message counters reach the recorder at most this late
MAX_SIZE = 32 * 2**20  # largest incoming message (bytes)
MAX_QUEUE = 32  # incoming frames buffered before reading from the socket pauses
WRITE_LIMIT = 2**16  # unsent bytes before send() waits for the socket to drain
CLOSE_TIMEOUT = 2.0  # seconds a close may take (frame out, peer's frame back) before aborting
INTERRUPTED_CLOSE = 0.5  # the same, in an iteration the graceful stop is interrupting
SEND_TIMEOUT = 10.0  # seconds a send may wait on a peer that does not read before aborting
NORMAL_CLOSES = (1000, 1001)
#: RFC 6455 names of the codes loadgen itself sends when a peer breaks the protocol
FAIL_CODES = {1002: "protocol error", 1007: "invalid data", 1009: "message too big",
              1011: "internal error"}


class WSError(LoadgenError):
    """A WebSocket failed: `url`, `status` (HTTP status of the handshake, 0 without one) and
    `error` (the short, low-cardinality reason also used as the `ws_errors` tag)."""

    def __init__(self, message: str, *, url: str, status: int = 0, error: str = "",
                 close_code: int | None = None) -> None:
        super().__init__(message)
        self.url, self.status, self.error, self.close_code = url, status, error, close_code


class WSClosed(WSError):
    """The socket is closed (by the peer, the network, or us) and cannot send or receive."""


class WSTimeout(TimeoutError):
    """No message (recv) or no pong (ping) within the timeout; the socket stays usable."""


def ws_base(base_url: str | None) -> str | None:
    """The WebSocket base for a scenario's HTTP base URL: http -> ws, https -> wss."""
    if not base_url:
        return None
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base_url.startswith(http):
            return ws + base_url[len(http):].rstrip("/")
    return base_url.rstrip("/")


class WSMetrics:
    """The run's WebSocket metrics, looked up once per client (k6's built-ins, plus
    loadgen's own, defined on first use so runs without WebSockets do not list them)."""

    __slots__ = ("sessions", "connecting", "session_duration", "msgs_sent", "msgs_received",
                 "ping", "unexpected_disconnects", "errors", "send_wait", "queue_depth")

    def __init__(self, reg: Registry) -> None:
        self.sessions = reg["ws_sessions"]
        self.connecting = reg["ws_connecting"]
        self.session_duration = reg["ws_session_duration"]
        self.msgs_sent = reg["ws_msgs_sent"]
        self.msgs_received = reg["ws_msgs_received"]
        self.ping = reg["ws_ping"]
        self.unexpected_disconnects = _own(reg, "ws_unexpected_disconnects", MetricType.COUNTER)
        self.errors = _own(reg, "ws_errors", MetricType.COUNTER)
        self.send_wait = _own(reg, "ws_send_wait", MetricType.TREND, Contains.TIME)
        self.queue_depth = _own(reg, "ws_queue_depth", MetricType.GAUGE)


def _own(reg: Registry, name: str, mtype: MetricType,
         contains: Contains = Contains.DEFAULT) -> Metric:
    return reg.get(name) or reg.define(name, mtype, contains)
