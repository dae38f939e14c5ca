"""The collector's pauses during the load: what exists when the load starts is frozen.

CPython's full (generation 2) collection walks every tracked object. By the time the first
iteration starts, the process holds tens of thousands of long-lived ones (imported modules,
VUs, their clients and pools, setup data), and a run at thousands of iterations/s allocates
fast enough to trigger a full pass every second or two: measured at 8,000 GET/s on one core,
those passes stalled the loop 60 ms to 0.7 s each, every start due in the meantime was late,
late starts took new VUs, new VUs opened new connections, and the run spiralled into
`dropped_iterations`. Moving every object alive then into the permanent generation
(`gc.freeze()`) takes them out of every later pass; the collector keeps working on what the
load itself allocates (records, tasks, responses), so reference cycles are still freed.

The young generation is also made bigger while the load runs. Records wait up to one ingest
tick (~50 ms) in the recorder, so at tens of thousands of requests/s every young collection
found thousands of them alive, walked them and promoted them, and the middle generation's
passes walked them again: 1,818 young and 164 middle passes in a 6 s run at 50,000 GET/s,
342 ms in all, 1.1 µs of collector time per request. With a threshold of
50,000 net allocations a young pass comes every ~0.2 s at that rate and walks no more than
what the default one did in total; the other two thresholds stay CPython's, so the full
passes that free cycles among long-lived objects come as often (in allocations) as before.

One more thing is set up here for the C heap: see `raise_mmap_threshold`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: the young generation's threshold while the load runs (CPython's default: 700)
YOUNG_THRESHOLD = 50_000


_THRESHOLD_RAISED: list[bool] = []


def raise_mmap_threshold() -> None:
    """Have glibc's malloc keep buffers of a few hundred KiB in its heap (once a process).

    Blocks of 128 KiB and more are served with mmap until a mapped block is freed whole;
    then glibc raises that threshold to the block's size. Every TLS read (asyncio's and
    uvloop's SSL protocols alike) asks the SSL object for up to 256 KiB, which allocates
    that much and shrinks it to the record's size (mremap) before it is freed, so the
    threshold never rose: each HTTPS response cost mmap + mremap + munmap and a page fault,
    ~14 us of system CPU per request at 50 keep-alive connections (20-26 us of sys instead
    of 6-8). Freeing one 1 MiB block raises it for good. (It rose by chance before: some
    start-up import freed a big block; lazy imports took that away.) Harmless elsewhere."""
    if not _THRESHOLD_RAISED:
        block = bytes(1 << 20)
        del block
        _THRESHOLD_RAISED.append(True)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze what exists for the duration of the block and raise the young generation's
    threshold, then undo both (the end-of-run work and a later run in the same process see
    a normal collector).

    No collection first: it cost 10-30 ms per run (a full pass over a test process's heap:
    a second on a test file of 30 runs), and the only price of skipping it is that cyclic
    garbage already there waits for the thaw. Nested use (a fleet worker's engine inside
    another) freezes once and unfreezes once."""
    raise_mmap_threshold()
    if gc.get_freeze_count():  # an outer block froze the heap already
        yield
        return
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
