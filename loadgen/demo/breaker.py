"""A circuit breaker in front of the storage pool: fail fast instead of piling up.

Why: when storage cannot answer (pool exhausted, store down), every request that still
tries waits out its pool timeout, holding a handler, a socket and memory; under load that
is how one slow dependency takes the whole service down. After `failures` consecutive
failures the breaker *opens*: storage requests answer 503 at once with Retry-After (the
cool-down left). After `cooldown_s` it is *half-open*: one trial request goes through (the
others still get 503); its success *closes* the breaker, its failure opens it again for a
new cool-down. `failures` 0 means no breaker (every request tries).

The clock is injectable so the state machine is tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: Callable[[str, str], None] | None = None,
    ) -> None:
        self.threshold = max(0, failures)
        self.cooldown_s = max(0.0, cooldown_s)
        self._clock = clock
        self._on_transition = on_transition
        self.state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial = False  # a half-open trial request is under way
        self.transitions = dict.fromkeys(STATES, 0)

    def _enter(self, state: str) -> None:
        old, self.state = self.state, state
        self.transitions[state] += 1
        if self._on_transition is not None:
            self._on_transition(old, state)

    def allow(self) -> bool:
        """May this request try storage? (In half-open: only the one trial may.)"""
        if self.state == OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self._enter(HALF_OPEN)
            self._trial = False
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and not self._trial:
            self._trial = True
            return True
        return False

    def retry_after_s(self) -> int:
        """Whole seconds until a trial may go through (at least 1: Retry-After 0 invites a
        retry storm)."""
        left = self.cooldown_s - (self._clock() - self._opened_at)
        return max(1, math.ceil(left))

    def success(self) -> None:
        self._failures = 0
        if self.state == HALF_OPEN:
            self._trial = False
            self._enter(CLOSED)

    def failure(self) -> None:
        if self.threshold == 0:
            return
        if self.state == HALF_OPEN:
            self._trial = False
            self._open()
            return
        self._failures += 1
        if self.state == CLOSED and self._failures >= self.threshold:
            self._open()

    def abandon(self) -> None:
        """The request given the trial ended without an answer (cancelled): free the trial."""
        if self.state == HALF_OPEN:
            self._trial = False

    def _open(self) -> None:
        self._failures = 0
        self._opened_at = self._clock()
        self._enter(OPEN)
