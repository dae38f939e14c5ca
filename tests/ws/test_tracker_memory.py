"""The delivery tracker's duplicate window at soak rates: bounded, and small per id, so a
10-minute soak at 500 msg/s does not climb by its size after the first minute (the default
100,000-id window fills in 200 s; as id strings in an OrderedDict it held 15.6 MB)."""

from __future__ import annotations

import tracemalloc

from fakes import Harness


def test_a_full_duplicate_window_is_small_and_still_finds_duplicates() -> None:
    window = 20_000
    h = Harness()
    t = h.run_ctx.make_tracker(dup_window=window)
    n = window + 3 * t._done.block  # past the window and its slack

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
    assert window <= len(t._done) <= window + 2 * t._done.block
    assert held < 30 * window, held  # ~156 bytes per id before, ~8 now
    assert t.received(mid(n - 1)) is False and t.counts["duplicated"] == 1
    assert t.received(mid(n - window)) is False and t.counts["duplicated"] == 2
    assert t.received(mid(0)) is False and t.counts["duplicated"] == 2  # out of the window
