"""The VU whose iteration is running in the current task (a contextvar).

Custom metrics declared at module level (`Counter("orders")`) find the VU - and through it the
run's recorder, clock and tags - without being passed around.
"""

from __future__ import annotations

from contextvars import ContextVar

from loadgen.scripting.vu import VU

current_vu: ContextVar[VU | None] = ContextVar("loadgen_current_vu", default=None)
