"""Mixed load: 50 persistent WebSockets and 500 HTTP POSTs/s at the same time; 95 % of the
deliveries within 500 ms, and not one socket dropped.

What it proves: the service keeps long-lived sockets healthy (pinged every 10 s, zero
unexpected disconnects) while HTTP traffic runs at full rate, and fan-out stays fast: the
50 socket users sit in 10 group conversations of 5, so every POST is delivered to 5 sockets
(2,500 frames/s at 500 POSTs/s), each copy tracked on its own
(`client_msg_id:recipient`), so a copy missing on one socket is a lost message.

    loadgen run scenarios/mixed_load.py --thresholds thresholds/mixed_load.yaml
    loadgen run scenarios/mixed_load.py --rps 100 --duration 20s \\
        --thresholds thresholds/mixed_load.yaml

`--rps`/`--duration` scale the POSTs; the sockets stay 50 (`HeldSockets`).
"""

from __future__ import annotations

from common import Inboxes, InboxSenders, username

from loadgen import Mixed


class GroupSockets(Inboxes):
    sockets = 50
    duration = "10m"
    role = "member"
    group = 5  # socket users per group conversation: each copy is tracked on its own
    title = "group"
    senders = [username("poster", i) for i in range(10)]


class Posts(InboxSenders, Mixed):
    """The Mixed test type: its verdict is delivered/lost/duplicated, delivery p95 and
    unexpected disconnects over the whole run (--rps/--duration scale it)."""

    rate, duration, vus = 500, "10m", 50
    delivery_p95_ms = 500
    receivers = GroupSockets
    id_prefix = "mx"
    waiting = "a group is connected"

    def body(self, client_msg_id: str) -> str:
        return f"hello group {client_msg_id}"
