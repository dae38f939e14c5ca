"""The dead-letter store that catches dispatch writes while the broker is partitioned.

Why a store and not a drop: a message the service answered 202 for must still reach its
recipients once the broker is back, or the service lost it. So while partitioned each
accepted message is written here, in order, and replayed into the outbox at the heal. The
store is bounded (`dlq_max` of the partition fault): when it is full the message is refused
with a 503 and Retry-After, so the sender knows and can retry; nothing is dropped silently.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DeadLetterStore(Generic[T]):
    """A bounded FIFO of messages waiting for the broker."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: deque[T] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> bool:
        """False when full (the caller refuses the message)."""
        if len(self._items) >= self.capacity:
            return False
        self._items.append(item)
        return True

    def peek(self) -> T | None:
        return self._items[0] if self._items else None

    def pop(self) -> T:
        return self._items.popleft()

    def clear(self) -> int:
        n = len(self._items)
        self._items.clear()
        return n
