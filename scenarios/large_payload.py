"""Large payloads: 100 messages/s of 64 KiB, every byte checked after the round trip.

What it proves: a 64 KiB message (the demo's largest allowed body) survives the whole path
unchanged: JSON over HTTP into the service, the outbox, and a WebSocket frame out to its
receiver. Each body is a `loadgen.payload()` carrying its own digest, so the receiver
verifies it without knowing what was sent; any flipped byte counts in
`payload_corruptions`, which must stay 0. Every message is also delivery-tracked, so a body
that never arrives is a lost message rather than a silently skipped check.

    loadgen run scenarios/large_payload.py --thresholds thresholds/large_payload.yaml
    loadgen run scenarios/large_payload.py --rps 20 --duration 10s \\
        --thresholds thresholds/large_payload.yaml

`--rps`/`--duration` scale the senders; the receivers stay 10 sockets (`HeldSockets`).
"""

from __future__ import annotations

import itertools
from typing import Any

from common import Inboxes, InboxSenders, Payloads, username

from loadgen import LargePayload, payload
from loadgen.messaging.payloads import check as check_payload

SIZE = "64KiB"

_seq = itertools.count(1)


class Receivers(Payloads, Inboxes):
    sockets = 10
    duration = "10m"
    role = "bulkrecv"
    title = "bulk"
    senders = [username("bulk", i) for i in range(5)]

    def received(self, vu: Any, frame: dict[str, Any], user: str) -> None:
        check_payload(vu, frame.get("body") or "")
        super().received(vu, frame, user)


class Senders(InboxSenders, LargePayload):
    """The LargePayload test type: its verdict is payloads checked / corrupted / lost."""

    rate, duration, vus = 100, "10m", 20
    receivers = Receivers
    id_prefix = "big"
    accepted = "64 KiB message accepted (202)"

    def body(self, client_msg_id: str) -> str:
        return payload(SIZE, kind="json", seed=7, seq=next(_seq)).decode("ascii")
