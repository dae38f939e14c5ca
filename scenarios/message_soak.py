"""Message soak: 500 messages/s of ~1 KiB (POST /v1/messages) for 30 minutes while 50
WebSocket receivers hold their sockets, every message tracked from POST to delivery.

What it proves: the messaging path keeps its latency (p95 < 100 ms), its error rate
(< 0.1 %) and its promise (zero lost messages, delivered within 5 s: consumer lag measured
end to end by the delivery tracker) for as long as the soak runs.

How: each receiver owns one conversation whose other participants are the 10 sender users,
so every message has exactly one recipient socket and `client_msg_id` identifies it on
arrival. Senders only post to conversations whose receiver is connected right now, so a
reconnecting receiver never turns into "lost" messages the service did not lose.

    loadgen demo-server &                       # or: make demo (does all of this)
    loadgen run scenarios/message_soak.py --thresholds thresholds/message_soak.yaml
    loadgen run scenarios/message_soak.py --rps 500 --duration 30s \\
        --thresholds thresholds/message_soak.yaml
    # the service's own view of the outbox, scraped from /metrics:
    loadgen run scenarios/message_soak.py --rps 500 --duration 30s \\
        --scrape http://127.0.0.1:8000/metrics --thresholds thresholds/message_soak_scrape.yaml

`--rps`/`--duration` scale the senders; the receivers stay 50 sockets (`HeldSockets`).
"""

from __future__ import annotations

from common import Inboxes, InboxSenders, username

from loadgen import ConstantArrivalRate

BODY_BYTES = 1024


def body_for(client_msg_id: str) -> str:
    """A ~1 KiB message body that names its message (readable when debugging a loss)."""
    head = f"message {client_msg_id} "
    return head + "x" * max(0, BODY_BYTES - len(head))


class Receivers(Inboxes):
    sockets = 50
    duration = "30m"
    role = "receiver"
    title = "inbox of {owner}"
    senders = [username("sender", i) for i in range(10)]


class Senders(InboxSenders):
    executor = ConstantArrivalRate(rate=500, duration="30m", pre_allocated_vus=50, max_vus=1000)
    receivers = Receivers
    id_prefix = "m"

    def body(self, client_msg_id: str) -> str:
        return body_for(client_msg_id)
