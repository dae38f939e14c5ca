"""Broker partition (Test 9): 500 messages/s for 10 minutes to 50 held WebSockets; at 5
minutes the broker is partitioned away for 15 s, then healed (two events on /admin/faults).

What it proves: while partitioned, dispatch writes go to the dead-letter store (the event
"dead letters written": /health `dead_lettered` grew) instead of being lost or failed, and
at the heal they are replayed automatically, so every message still arrives
(`messages_lost` zero, by the delivery tracker) and the service is back within 60 s: the
event "dead letters replayed" polls /health until the broker is up with an empty dead-letter
store and `replayed` grew. That poll stays because loadgen's `Recovery` verdict (declared
too, on the senders' requests) cannot see it: POST /v1/messages answers 202 throughout.
15 s at 500/s is 7,500 dead letters, inside the store's bound of 10,000 (past it: 503 with
Retry-After).

The fault it exists to catch: a heal that does not replay (`replay: false`) loses every
dead-lettered message, and this run fails (exit 99).

Scaling (resilience.py): DURATION moves the events with the run's length; the full plan is
the default (10m, partition at 5m for 15 s):

    loadgen run scenarios/broker_partition.py --thresholds thresholds/broker_partition.yaml
    DURATION=8s RATE=50 FAULT_S=2 loadgen run scenarios/broker_partition.py \\
        --thresholds thresholds/broker_partition.yaml
"""

from __future__ import annotations

from common import Inboxes, InboxSenders, username
from fault_checks import dead_lettered, drained, snapshot
from resilience import RUN, Phase, check_within, env_float, fault_events, fault_window

from loadgen import At, Call, ConstantArrivalRate, Recovery

WINDOW = fault_window(15.0)
GATE_S = 60.0  # the plan's recovery gate
Phase.window = WINDOW
CHECK_S = check_within(GATE_S, WINDOW)


class Receivers(Inboxes):
    sockets = int(env_float("SOCKETS", 50, 1, 10_000))
    duration = RUN
    role = "receiver"
    title = "inbox of {owner}"
    senders = [username("sender", i) for i in range(10)]


class Senders(InboxSenders):
    executor = ConstantArrivalRate(rate=int(env_float("RATE", 500, 1)), duration=RUN,
                                   pre_allocated_vus=50, max_vus=1000)
    receivers = Receivers
    id_prefix = "b"
    events = [At(0, Call(snapshot), name="counters before", timeout="5s"),
              *fault_events({"partition": {}}, WINDOW, "partition", "heal"),
              At(WINDOW.off_s, Call(dead_lettered), name="dead letters written",
                 required=True, timeout="5s"),
              At(WINDOW.off_s, Call(drained, "replayed", "dlq", ("broker", "up"), CHECK_S),
                 name="dead letters replayed", required=True, timeout=CHECK_S + 5)]
    recovery = [Recovery(after="partition", until="heal", within=f"{GATE_S:g}s",
                         gate=[f"recovery_s<{GATE_S:g}"])]

    def body(self, client_msg_id: str) -> str:
        return f"message {client_msg_id} " + "x" * 200
