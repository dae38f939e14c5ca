"""Broker partition (Test 9): 500 messages/s for 10 minutes to 50 held WebSockets; at 5
minutes the broker is partitioned away for 15 s, then healed.

What it proves: while partitioned, dispatch writes go to the dead-letter store
(`dead_letter_writes` > 0, the service's `messaging_dispatch_dlq_total`) instead of being
lost or failed, and at the heal they are replayed automatically (`messages_replayed`), so
every message still arrives (`messages_lost` zero, by the delivery tracker) and the service
is back within 60 s (`recovery_time`: heal to an empty dead-letter store). 15 s at 500/s is
7,500 dead letters, inside the store's bound of 10,000 (past it: 503 with Retry-After).

The fault it exists to catch: a heal that does not replay (`replay: false`) loses every
dead-lettered message, and this run fails (exit 99).

    loadgen run scenarios/broker_partition.py --thresholds thresholds/broker_partition.yaml
    RATE=50 FAULT_S=2 loadgen run scenarios/broker_partition.py --duration 8s \\
        --thresholds thresholds/broker_partition.yaml
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
    id_prefix = "b"

    def body(self, client_msg_id: str) -> str:
        return f"message {client_msg_id} " + "x" * 200


class Partition(FaultSwitch):
    fault = {"partition": {}}
    hold_s = 15.0
    recovery_gate_s = 60.0
    dead_letter_writes = Counter("dead_letter_writes")
    messages_replayed = Counter("messages_replayed")

    def recovered(self, health: dict[str, Any]) -> bool:
        return health.get("broker") == "up" and health.get("dlq") == 0

    def report(self, vu: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
        for metric, key in ((self.dead_letter_writes, "dead_lettered"),
                            (self.messages_replayed, "replayed")):
            metric.add(after.get(key, 0) - before.get(key, 0))
