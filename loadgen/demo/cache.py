"""A read-through cache of conversation participants, the classic stale-read hazard.

Every message post and every conversation read checks membership through this cache,
so under load it has a real hit ratio, and membership changes must invalidate it: the
store calls `invalidate()` in the same step that mutates the participant set, which is
what makes "a removed participant gets 403 at once" testable rather than luck.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class ParticipantCache:
    """conversation id → frozenset of usernames, LRU-bounded, with hit/miss counters."""

    def __init__(
        self,
        loader: Callable[[str], frozenset[str] | None],
        *,
        max_entries: int = 100_000,
        on_hit: Callable[[], None] | None = None,
        on_miss: Callable[[], None] | None = None,
    ) -> None:
        self._loader = loader
        self._entries: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._max = max(1, max_entries)
        self._on_hit = on_hit
        self._on_miss = on_miss
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, conversation_id: str) -> tuple[frozenset[str] | None, bool]:
        """(participants or None if the conversation does not exist, was it a hit)."""
        cached = self._entries.get(conversation_id)
        if cached is not None:
            self._entries.move_to_end(conversation_id)
            self.hits += 1
            if self._on_hit is not None:
                self._on_hit()
            return cached, True
        self.misses += 1
        if self._on_miss is not None:
            self._on_miss()
        loaded = self._loader(conversation_id)
        if loaded is not None:
            self._entries[conversation_id] = loaded
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return loaded, False

    def get(self, conversation_id: str) -> frozenset[str] | None:
        return self.lookup(conversation_id)[0]

    def invalidate(self, conversation_id: str) -> None:
        if self._entries.pop(conversation_id, None) is not None:
            self.invalidations += 1
