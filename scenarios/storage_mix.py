"""Storage mix (Test 7): writes, stream publishes and cache reads at 300 requests/s for 10
minutes against a healthy service: the baseline the storage fault plans are measured against.

What it proves: with nothing broken, the storage path (pool, cache, outbox) keeps p95 under
200 ms for each kind of request and fails fewer than 1 % of them; every answer is the one the
API promises (201/200/202). The mix and why it cannot grow without bound: resilience.py.

    loadgen run scenarios/storage_mix.py --thresholds thresholds/storage_mix.yaml
    DURATION=10s RATE=50 loadgen run scenarios/storage_mix.py \\
        --thresholds thresholds/storage_mix.yaml
"""

from __future__ import annotations

from resilience import StorageMix


class Storage(StorageMix):
    pass
