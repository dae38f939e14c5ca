"""Consumer resilience (Test 8): 500 messages/s for 10 minutes to 50 held WebSockets; at 5
minutes the outbox consumer is stopped for 15 s and restarted.

What it proves: nothing is lost across a consumer crash (every message accepted while it was
down waits in the pending list and is redelivered at the restart: `messages_lost` is zero
end to end, by the delivery tracker, and `messages_reclaimed` shows the redelivery really
happened), and the service recovers within 30 s of the restart (`recovery_time`: restart to
an empty pending list). 15 s at 500/s is 7,500 pending messages, inside the outbox's bound
of 10,000 (past it the service refuses new messages with 503, never drops them).

The fault it exists to catch: a restart that does not redeliver (the service's
`redelivery: false` switch) loses the pending messages, and this run fails (exit 99).

    loadgen run scenarios/consumer_resilience.py --thresholds thresholds/consumer_resilience.yaml
    RATE=50 FAULT_S=2 loadgen run scenarios/consumer_resilience.py --duration 8s \\
        --thresholds thresholds/consumer_resilience.yaml
    FAULT_JSON='{"consumer": {"redelivery": false}}' RATE=50 FAULT_S=2 \\
        loadgen run scenarios/consumer_resilience.py --duration 8s \\
        --thresholds thresholds/consumer_resilience.yaml     # exits 99: messages lost
"""

from __future__ import annotations

from typing import Any

from common import Inboxes, InboxSenders, username
from resilience import FaultSwitch, env_float

from loadgen import ConstantArrivalRate, Counter


class Receivers(Inboxes):
    sockets = int(env_float("SOCKETS", 50, 1, 10_000))
    duration = "10m"
    role = "receiver"
    title = "inbox of {owner}"
    senders = [username("sender", i) for i in range(10)]


class Senders(InboxSenders):
    executor = ConstantArrivalRate(rate=int(env_float("RATE", 500, 1)), duration="10m",
                                   pre_allocated_vus=50, max_vus=1000)
    receivers = Receivers
    id_prefix = "c"

    def body(self, client_msg_id: str) -> str:
        return f"message {client_msg_id} " + "x" * 200


class ConsumerKill(FaultSwitch):
    fault = {"consumer": {"stopped": True}}
    hold_s = 15.0
    recovery_gate_s = 30.0
    messages_reclaimed = Counter("messages_reclaimed")

    def recovered(self, health: dict[str, Any]) -> bool:
        return health.get("consumer") == "running" and health.get("pending") == 0

    def report(self, vu: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.messages_reclaimed.add(after.get("reclaimed", 0) - before.get("reclaimed", 0))
