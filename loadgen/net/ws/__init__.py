"""`vu.ws`: k6's WebSocket API with k6's metrics, on picows (fast.py: frames parsed and
masked in C, whole messages assembled by loadgen); `compression="deflate"` sessions use the
`websockets` asyncio client instead (internals.py), as picows has no permessage-deflate.

Why it is shaped like this:

* **k6's session metrics, k6's timing.** `ws_sessions`, `ws_connecting` and `ws_session_duration`
  are stamped with the connect start (k6-compat.md section 6). k6 pushes them after the socket
  closes; we record `ws_connecting` right after the handshake (so it is live) and `ws_sessions` /
  `ws_session_duration` when the session ends, because only then is the `close_code` tag known
  (loadgen's addition, so `ws_sessions{close_code:1002}` thresholds work). A sample can therefore
  enter the record stream long after its timestamp (a 30-minute hold: 30 minutes late).
* **Failed connects raise, and are still counted.** An unreachable URL, a 403 or a non-WebSocket
  endpoint records a session with status = the HTTP status (or 0: k6 itself omits the tag then)
  plus `ws_errors{error}`, then raises `WSError` naming the URL and status. k6's JS callback API
  returns a dead response instead; in Python the next `send` would fail anyway, further from
  the cause. `connect(..., throw=False)` gives k6's behaviour (`session.status`, `.error`).
* **Cheap per message.** `ws_msgs_sent`/`ws_msgs_received` are counted in ints and flushed as
  one counter sample per session per second (and at close): totals exact, timestamps coarse.
* **Bytes on the wire.** The connection counts what the socket carries (handshake and frame
  headers too), which k6 adds to data_sent/data_received. On picows these are sized from
  the parsed handshake and each frame (picows reads the socket in C); the ping/pong frames
  picows answers by itself are not counted.
* **Every wait has a deadline.** A peer that stops reading cannot hold a send (`send_timeout`)
  or a close (CLOSE_TIMEOUT) forever, nor can one that never finishes a closing handshake
  hold a reader: the socket is aborted and the failure recorded in `ws_errors`. When a peer
  breaks the protocol, the code loadgen sent (1002, 1007, 1009) is the `close_code`, not 1006.
* **Bounded memory, visible backpressure.** Receive buffers hold at most `max_queue` frames of at
  most `max_size` bytes; sends wait once `write_limit` bytes are unsent. Time blocked that way is
  `ws_send_wait`; a non-empty receive queue shows as the `ws_queue_depth` gauge.
"""

from loadgen.net.ws.client import Connecting, WSClient
from loadgen.net.ws.conn import WSClosed, WSError, WSTimeout, ws_base
from loadgen.net.ws.session import WSSession

__all__ = ["Connecting", "WSClient", "WSClosed", "WSError", "WSSession", "WSTimeout", "ws_base"]
