"""The delivery tracker's duplicate window at soak rates: bounded, and small enough that a
10-minute soak at 500 msg/s does not climb by its size after the first minute."""

from __future__ import annotations

import tracemalloc

from fakes import Harness

from loadgen.messaging.track import DUP_WINDOW


def test_a_full_duplicate_window_is_small_and_still_finds_duplicates() -> None:
    h = Harness()
    t = h.run_ctx.make_tracker()
    n = DUP_WINDOW + 10

    def mid(i: int) -> str:
        return f"m-1a2b3c4d-{i}"  # message_soak's id shape, made per message as in a run

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            t.sent(mid(i))
            assert t.received(mid(i)) is True
            if i % 1000 == 0:
                h.recorder.drain()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(t._done) == DUP_WINDOW
    assert held < 10_000_000, held  # the ids themselves in an OrderedDict: 15.6 MB
    assert t.received(mid(n - 1)) is False and t.counts["duplicated"] == 1
    assert t.received(mid(0)) is False and t.counts["duplicated"] == 1  # out of the window
