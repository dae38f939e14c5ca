"""Consumer resilience (Test 8): 500 messages/s for 10 minutes to 50 held WebSockets; at 5
minutes the outbox consumer is stopped for 15 s and restarted (two events:
`POST /admin/faults`, then the heal).

What it proves: nothing is lost across a consumer crash (every message accepted while it was
down waits in the pending list and is redelivered at the restart: `messages_lost` is zero
end to end, by the delivery tracker), and the service recovers within 30 s of the restart:
the event "pending redelivered" polls /health until the consumer runs with an empty pending
list and `reclaimed` grew (a required event: failing it exits 99). That poll stays because
loadgen's `Recovery` verdict judges the senders' requests, which a stopped consumer does not
touch (POST /v1/messages keeps answering 202 into the outbox); the verdict is still declared
(p95 and errors of the senders back to the baseline within 30 s, with the messages sent and
lost from the fault to its recovery in its figures). 15 s at 500/s is 7,500 pending
messages, inside the outbox's bound of 10,000 (past it the service refuses new messages with
503, never drops them).

The fault it exists to catch: a restart that does not redeliver (the service's
`redelivery: false` switch) loses the pending messages, and this run fails (exit 99).

Scaling (resilience.py): DURATION sets the run's length and moves the events with it;
the full plan is the default (10m, kill at 5m for 15 s):

    loadgen run scenarios/consumer_resilience.py --thresholds thresholds/consumer_resilience.yaml
    DURATION=8s RATE=50 FAULT_S=2 loadgen run scenarios/consumer_resilience.py \\
        --thresholds thresholds/consumer_resilience.yaml
    FAULT_JSON='{"consumer": {"redelivery": false}}' DURATION=8s RATE=50 FAULT_S=2 \\
        loadgen run scenarios/consumer_resilience.py \\
        --thresholds thresholds/consumer_resilience.yaml     # exits 99: messages lost
"""

from __future__ import annotations

from common import Inboxes, InboxSenders, username
from fault_checks import drained, snapshot
from resilience import RUN, Phase, check_within, env_float, fault_events, fault_window

from loadgen import At, Call, ConstantArrivalRate, Recovery

WINDOW = fault_window(15.0)
GATE_S = 30.0  # the plan's recovery gate
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
    id_prefix = "c"
    events = [At(0, Call(snapshot), name="counters before", timeout="5s"),
              *fault_events({"consumer": {"stopped": True}}, WINDOW, "consumer-kill",
                            "consumer-restart"),
              At(WINDOW.off_s, Call(drained, "reclaimed", "pending", ("consumer", "running"),
                                    CHECK_S), name="pending redelivered", required=True,
                 timeout=CHECK_S + 5)]
    recovery = [Recovery(after="consumer-kill", until="consumer-restart", within=f"{GATE_S:g}s",
                         gate=[f"recovery_s<{GATE_S:g}"])]

    def body(self, client_msg_id: str) -> str:
        return f"message {client_msg_id} " + "x" * 200
