"""Mixed (WebSocket + HTTP) and LargePayload: steady load whose question is about messages,
not latency alone — were they all delivered, on time, once, intact, with no socket lost?

The verdicts read the run-wide counters of the delivery tracker and the payload checks
(loadgen/messaging/track.py, loadgen/messaging/payloads.py), so they judge every scenario
of the run together: subclass the sending scenario; the receivers can be any scenario
holding sockets.
"""

from __future__ import annotations

from typing import Any, ClassVar

from loadgen.testtypes.base import Shape, TestType
from loadgen.testtypes.verdict import Verdict
from loadgen.testtypes.view import RunView


def _count(view: RunView, name: str) -> float:
    return _store_count(view.store, name)


def _store_count(store: Any, name: str) -> float:
    sink = store.get(name) if store is not None else None
    return float(sink.aggregate("count", 0) or 0) if sink is not None else 0.0


def _p95(view: RunView, name: str) -> float | None:
    sink = view.store.get(name) if view.store is not None else None
    return None if sink is None or sink.empty else float(sink.aggregate("p(95)", 0) or 0)


def delivery_figures(store: Any) -> dict[str, float]:
    """The run's delivery counts (all scenarios together): sent, delivered, lost and
    duplicated messages, from the tracker's counters (0 when nothing was tracked)."""
    return {name: _store_count(store, name) for name in (
        "messages_sent", "messages_delivered", "messages_lost", "messages_duplicated")}


class Mixed(TestType):
    abstract = True
    kind = "mixed"
    rate: ClassVar[float] = 500  # messages per second from this (sending) scenario
    vus: ClassVar[int] = 50
    duration: ClassVar[str] = "10m"
    delivery_p95_ms: ClassVar[float] = 500

    @classmethod
    def shape(cls, o: Any) -> Shape:
        return Shape(cls.steady_shape(o, cls.vus, cls.rate, cls.duration))

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        sent, delivered = _count(view, "messages_sent"), _count(view, "messages_delivered")
        lost, dup = _count(view, "messages_lost"), _count(view, "messages_duplicated")
        drops = _count(view, "ws_unexpected_disconnects")
        p95 = _p95(view, "delivery_latency")
        figures = {"messages_sent": sent, "messages_delivered": delivered,
                   "messages_lost": lost, "messages_duplicated": dup,
                   "delivery_p95_ms": p95, "ws_unexpected_disconnects": drops,
                   "slo_delivery_p95_ms": cls.delivery_p95_ms}
        if sent == 0:
            return Verdict(cls.kind, view.scenario, None, "no tracked message was sent",
                           figures)
        ok = lost == 0 and drops == 0 and p95 is not None and p95 < cls.delivery_p95_ms
        head = (f"{delivered:.0f}/{sent:.0f} delivered, {lost:.0f} lost, {dup:.0f} duplicated, "
                f"delivery p95 {p95 or 0:.1f} ms (< {cls.delivery_p95_ms:g}), "
                f"{drops:.0f} unexpected disconnects")
        return Verdict(cls.kind, view.scenario, ok, head, figures)


class LargePayload(TestType):
    abstract = True
    kind = "large_payload"
    rate: ClassVar[float] = 100
    vus: ClassVar[int] = 20
    duration: ClassVar[str] = "10m"

    @classmethod
    def shape(cls, o: Any) -> Shape:
        return Shape(cls.steady_shape(o, cls.vus, cls.rate, cls.duration))

    @classmethod
    def verdict(cls, view: RunView) -> Verdict:
        checks, bad = _count(view, "payload_checks"), _count(view, "payload_corruptions")
        lost = _count(view, "messages_lost")
        figures = {"payload_checks": checks, "payload_corruptions": bad, "messages_lost": lost}
        if checks == 0:
            return Verdict(cls.kind, view.scenario, None, "no payload was checked", figures)
        ok = bad == 0 and lost == 0
        head = f"{checks:.0f} payloads checked, {bad:.0f} corrupted, {lost:.0f} lost"
        return Verdict(cls.kind, view.scenario, ok, head, figures)
