"""The workers' delivery trackers (`vu.track`) by send second, merged at the coordinator.

Counts and `delivery_latency` already reach the coordinator as metrics in every interval.
What does not is the tracker's per-second record of messages sent and, once settled, lost
by their send time, which a recovery verdict reads to say what a fault window cost. Each
worker reports it once, in its `done` message (one entry per second of the run: bounded by
its length, not its traffic), on the coordinator's clock to the second; the sums answer
`window()` as one process's tracker does. Each worker still pairs only its own sends and
receipts (a message received on another worker's socket is lost on the sender's).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

MAX_SECONDS = 10_000_000  # per worker and kind: ~115 days of one-second bins


def delivery_bins(tracker: Any, shift_ns: int) -> dict[str, dict[str, int]] | None:
    """A worker's tracker as its `done` message carries it (None: it tracked nothing);
    `shift_ns` takes its run clock back to the coordinator's (0 on one machine)."""
    if tracker is None:
        return None
    shift_s = round(shift_ns / 1e9)
    return {kind: {str(s - shift_s): int(n) for s, n in bins.items()}
            for kind, bins in (("sent", tracker.sent_by_second),
                               ("lost", tracker.lost_by_second))}


class FleetDeliveries:
    def __init__(self) -> None:
        self.sent: Counter[int] = Counter()
        self.lost: Counter[int] = Counter()
        self.reported = 0  # workers that had a tracker

    def add(self, bins: Any) -> None:
        """One worker's bins (ValueError/TypeError on a malformed message: a bad worker)."""
        if not bins:
            return
        for kind, into in (("sent", self.sent), ("lost", self.lost)):
            got = dict(bins.get(kind) or {})
            if len(got) > MAX_SECONDS:
                raise ValueError(f"{len(got)} seconds of {kind} messages")
            into.update({int(s): int(n) for s, n in got.items()})
        self.reported += 1

    def window(self, t0_ns: int, t1_ns: int) -> tuple[int, int]:
        """(sent, lost) of the messages sent in [t0_ns, t1_ns), to the second, fleet-wide."""
        seconds = range(t0_ns // 1_000_000_000, -(-t1_ns // 1_000_000_000))
        return (sum(self.sent.get(s, 0) for s in seconds),
                sum(self.lost.get(s, 0) for s in seconds))

    def tracker(self) -> FleetDeliveries | None:
        """What the events' recovery verdict asks for: this, once a worker tracked."""
        return self if self.reported else None
