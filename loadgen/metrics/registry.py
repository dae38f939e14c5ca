"""The metric registry (names -> Metric) with k6's built-in metrics, and the hot-path Recorder.

The Recorder is the only thing VUs touch: appending a tuple to a list. Aggregation happens
later, in batches, in the ingest loop (metrics/ingest.py).
"""

from __future__ import annotations

from loadgen.errors import ScriptError
from loadgen.metrics.model import HTTP, ITER, NAME_RE, SAMPLE, Contains, Metric, MetricType, TagSet

C, G, R, T = MetricType.COUNTER, MetricType.GAUGE, MetricType.RATE, MetricType.TREND
D, TM, DA = Contains.DEFAULT, Contains.TIME, Contains.DATA

# k6-compat.md §5.1, plus loadgen's open-model trends.
BUILTINS: dict[str, tuple[MetricType, Contains]] = {
    "vus": (G, D),
    "vus_max": (G, D),
    "iterations": (C, D),
    "iteration_duration": (T, TM),
    "dropped_iterations": (C, D),
    "data_sent": (C, DA),
    "data_received": (C, DA),
    "checks": (R, D),
    "group_duration": (T, TM),
    "http_reqs": (C, D),
    "http_req_duration": (T, TM),
    "http_req_blocked": (T, TM),
    "http_req_connecting": (T, TM),
    "http_req_tls_handshaking": (T, TM),
    "http_req_sending": (T, TM),
    "http_req_waiting": (T, TM),
    "http_req_receiving": (T, TM),
    "http_req_failed": (R, D),
    "ws_sessions": (C, D),
    "ws_connecting": (T, TM),
    "ws_session_duration": (T, TM),
    "ws_msgs_sent": (C, D),
    "ws_msgs_received": (C, D),
    "ws_ping": (T, TM),
    # beyond k6: the open model's honest views (arrival-rate executors only)
    "iteration_lag": (T, TM),  # actual start - intended start
    "iteration_latency": (T, TM),  # iteration end - intended start
    # beyond k6: WebSocket health, delivery tracking, payload integrity, generator health
    "ws_unexpected_disconnects": (C, D),
    "ws_errors": (C, D),
    "ws_send_wait": (T, TM),
    "ws_queue_depth": (G, D),
    "delivery_latency": (T, TM),
    "messages_sent": (C, D),
    "messages_delivered": (C, D),
    "messages_lost": (C, D),
    "messages_duplicated": (C, D),
    "messages_untracked": (C, D),
    "messages_unmatched": (C, D),
    "payload_checks": (C, D),
    "payload_corruptions": (C, D),
    "loadgen_loop_lag": (T, TM),
    "loadgen_cpu": (G, D),
    "loadgen_saturated": (R, D),
}

# Order of the per-request samples an HTTP record expands into (k6-compat.md §6).
HTTP_TIMING_METRICS = (
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
)


class Registry:
    """All metrics of one run, built-ins first, custom ones as scenarios declare them."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        for name, (mtype, contains) in BUILTINS.items():
            self.metrics[name] = Metric(name, mtype, contains)

    def get(self, name: str) -> Metric | None:
        return self.metrics.get(name)

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def define(self, name: str, mtype: MetricType, contains: Contains = Contains.DEFAULT) -> Metric:
        """Declare a (custom) metric; re-declaring with the same type returns the same one."""
        if not NAME_RE.match(name):
            raise ScriptError(
                f'Invalid metric name: "{name}" (must match {NAME_RE.pattern}: '
                "letters, digits and _, 2 to 129 characters, not starting with a digit)"
            )
        have = self.metrics.get(name)
        if have is not None:
            if have.type is not mtype:
                raise ScriptError(
                    f"metric {name!r} already exists as a {have.type.value}, "
                    f"cannot redefine it as a {mtype.value}"
                )
            return have
        m = Metric(name, mtype, contains)
        self.metrics[name] = m
        return m


class Recorder:
    """Hot-path sink for records: a plain list append, swapped out by the ingest loop."""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list[tuple[object, ...]] = []

    def sample(self, metric: Metric, value: float, tags: TagSet, t_ns: int) -> None:
        self.records.append((SAMPLE, t_ns, metric, value, tags))

    def iteration(self, t_ns: int, tags: TagSet, duration: float, sent: int,
                  received: int) -> None:
        """An iteration's end as one ITER record (four samples once ingested): one tuple the
        collector can untrack instead of four that hold a Metric."""
        self.records.append((ITER, t_ns, tags, duration, sent, received))

    def http(
        self,
        t_ns: int,
        tags: TagSet,
        duration: float,
        blocked: float,
        connecting: float,
        tls: float,
        sending: float,
        waiting: float,
        receiving: float,
        failed: int | None,
    ) -> None:
        self.records.append(
            (HTTP, t_ns, tags, duration, blocked, connecting, tls, sending, waiting, receiving,
             failed)
        )

    def drain(self) -> list[tuple[object, ...]]:
        """Take every record appended so far (the ingest loop calls this)."""
        out = self.records
        self.records = []
        return out
