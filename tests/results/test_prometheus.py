"""`--out prometheus=`: the live families say what the records say, stay bounded, add up the
same from a fleet's intervals as from one process's records, and bind (or refuse) cleanly.

In-process and fast: records go through a real Store; the text a scrape would get is
rendered by prometheus_client and parsed back with its own parser."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from loadgen.errors import ConfigError
from loadgen.metrics.ingest import Store
from loadgen.metrics.model import tagset
from loadgen.metrics.registry import Recorder, Registry
from loadgen.results.interval import IntervalRecorder, apply, interval_store
from loadgen.results.prom_families import SECONDS_BUCKETS
from loadgen.results.prom_metrics import LiveMetrics
from loadgen.results.prom_server import PromServer, is_loopback, parse_address


def scrape_text(live: LiveMetrics) -> str:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(live)  # type: ignore[arg-type]
    return generate_latest(reg).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def http_tags(name: str, status: int) -> tuple[tuple[str, str], ...]:
    return tagset(scenario="s", name=name, method="GET", status=str(status), url=f"/{name}",
                  expected_response=str(status < 400).lower())


def records(registry: Registry, n: int = 300) -> list[tuple[object, ...]]:
    """HTTP records over two names and statuses, checks, a gauge and an unserved latency."""
    rng = np.random.default_rng(7)
    rec = Recorder()
    for i in range(n):
        name, status = ("a", 200) if i % 3 else ("b", 503)
        d = float(rng.exponential(20.0))
        rec.http(i, http_tags(name, status), d, 0, 0, 0, 0.01, d, 0.01, int(status >= 400))
        rec.sample(registry["checks"], float(status == 200), tagset(scenario="s", check="ok"), i)
    chat = tagset(scenario="s", name="chat", url="ws://127.0.0.1:9/ws")
    for _ in range(3):
        rec.sample(registry["ws_sessions"], 1.0, chat, n)
        rec.sample(registry["ws_connecting"], 4.0, chat, n)
        rec.sample(registry["ws_msgs_sent"], 5.0, chat, n)
    rec.sample(registry["vus"], 3.0, tagset(), n)
    rec.sample(registry["vus"], 5.0, tagset(), n + 1)
    rec.sample(registry["iteration_latency"], float("inf"), tagset(scenario="s"), n + 2)
    rec.sample(registry["iteration_latency"], 12.0, tagset(scenario="s"), n + 3)
    return rec.drain()


def fed(registry: Registry, recs: list[tuple[object, ...]], **kw: int) -> LiveMetrics:
    store = Store(registry)
    live = LiveMetrics(registry, list(registry.metrics), **kw)  # type: ignore[arg-type]
    store.add_observer(live.metrics, live)
    for i in range(0, len(recs), 64):  # several batches, as the ticker cuts them
        store.ingest(recs[i:i + 64])
    return live


def test_the_families_say_what_the_records_say() -> None:
    registry = Registry()
    recs = records(registry)
    got = samples(scrape_text(fed(registry, recs)))
    http = [r for r in recs if r[0] == 1]
    for name, status in (("a", "200"), ("b", "503")):
        lab = (("method", "GET"), ("name", name), ("scenario", "s"), ("status", status))
        mine = np.array([r[3] for r in http if dict(r[2])["name"] == name]) / 1000
        assert got[("loadgen_http_reqs_total", lab)] == len(mine)
        assert got[("loadgen_http_req_failed_total", lab)] == (len(mine) if name == "b" else 0)
        assert got[("loadgen_http_req_duration_seconds_count", lab)] == len(mine)
        assert got[("loadgen_http_req_duration_seconds_sum", lab)] == pytest.approx(mine.sum())
        for le in SECONDS_BUCKETS:
            key = ("loadgen_http_req_duration_seconds_bucket", tuple(sorted(
                (*lab, ("le", f"{le:g}")))))
            assert got[key] == int((mine <= le).sum()), le
    checks = (("check", "ok"), ("scenario", "s"))
    assert got[("loadgen_checks_total", (*checks[:1], ("result", "pass"), checks[1]))] == 200
    assert got[("loadgen_checks_total", (*checks[:1], ("result", "fail"), checks[1]))] == 100
    assert got[("loadgen_vus", ())] == 5.0  # a gauge is its last value
    # the unserved latency (+inf) is left out of the histogram: count 1, sum 12 ms
    lat = (("scenario", "s"),)
    assert got[("loadgen_iteration_latency_seconds_count", lat)] == 1
    assert got[("loadgen_iteration_latency_seconds_sum", lat)] == pytest.approx(0.012)
    ws = (("name", "chat"), ("scenario", "s"))  # the URL is not a label
    assert got[("loadgen_ws_sessions_total", ws)] == 3
    assert got[("loadgen_ws_msgs_sent_total", ws)] == 15
    assert got[("loadgen_ws_connecting_seconds_bucket", (("le", "0.005"), *ws))] == 3
    # the HTTP phases are not exported (6 more histograms per label set)
    assert not any(k[0].startswith("loadgen_http_req_waiting") for k in got)
    # no label set is made up from tag sets of other metrics in the same batch
    assert not any(k[0] == "loadgen_checks_total" and ("check", "") in k[1] for k in got)


def test_label_sets_are_capped_and_the_rest_folded_into_other(caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    registry = Registry()
    rec = Recorder()
    for i in range(40):
        rec.http(i, http_tags(f"user-{i}", 200), 1.0, 0, 0, 0, 0, 1.0, 0, 0)
    with caplog.at_level(logging.WARNING, logger="loadgen"):
        got = samples(scrape_text(fed(registry, rec.drain(), cap=5)))
    reqs = {dict(k[1])["name"]: v for k, v in got.items() if k[0] == "loadgen_http_reqs_total"}
    assert len(reqs) == 6 and reqs["other"] == 35 and sum(reqs.values()) == 40
    folds = [r for r in caplog.records if "folded" in r.getMessage()]
    assert len(folds) == 1 and "loadgen_http_reqs" in folds[0].getMessage()


def test_a_fleets_intervals_give_the_same_numbers_as_the_records() -> None:
    """The coordinator's store absorbs per-second interval aggregates (exact values, or HDR
    buckets past 10,000): the families must add up to what one process shows."""
    registry = Registry()
    recs = records(registry, 600)
    direct = samples(scrape_text(fed(registry, recs)))
    iv_rec = IntervalRecorder(registry)
    iv_rec.start(0)
    store = interval_store(registry)
    live = LiveMetrics(registry, list(registry.metrics))
    store.add_observer(live.metrics, live)
    for i in range(0, len(recs), 200):  # three "workers' seconds"
        iv_rec.ingest(recs[i:i + 200])
        apply(iv_rec.cut(float(i), {}), registry, store, None)
    merged = samples(scrape_text(live))
    assert merged.keys() == direct.keys()
    for k, v in direct.items():
        assert merged[k] == pytest.approx(v, rel=1e-9), k


def test_threshold_state_is_one_while_passing_and_zero_once_failed() -> None:
    states = [("http_req_duration", "p(95)<300", True), ("http_req_failed", "rate<0.01", False)]
    live = LiveMetrics(Registry(), [], thresholds=lambda: states)
    got = samples(scrape_text(live))
    assert got[("loadgen_threshold_passing", (("metric", "http_req_duration"),
                                              ("threshold", "p(95)<300")))] == 1.0
    assert got[("loadgen_threshold_passing", (("metric", "http_req_failed"),
                                              ("threshold", "rate<0.01")))] == 0.0


@pytest.mark.parametrize(("spec", "want"), [
    ("prometheus", ("127.0.0.1", 9464)),
    ("prometheus=9465", ("127.0.0.1", 9465)),
    ("prometheus=:0", ("127.0.0.1", 0)),
    ("prometheus=localhost:0", ("127.0.0.1", 0)),
    ("prometheus=127.0.0.2:9000", ("127.0.0.2", 9000)),
    ("prometheus=[::1]:0", ("::1", 0)),
])
def test_addresses(spec: str, want: tuple[str, int]) -> None:
    assert parse_address(spec) == want


@pytest.mark.parametrize(("spec", "says"), [
    ("prometheus=127.0.0.1:http", "the port must be a number"),
    ("prometheus=127.0.0.1:70000", "the port must be a number"),
    ("prometheus=metrics.example:9464", "is not an IP address"),
    ("prometheus=999.1.1.1:9464", "is not an IP address"),
])
def test_bad_addresses_are_named(spec: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_address(spec)


def test_only_loopback_is_quiet() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_a_port_in_use_is_a_config_error_and_stop_frees_the_port() -> None:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LiveMetrics(Registry(), [], thresholds=lambda: []))  # type: ignore[arg-type]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            PromServer(f"prometheus=127.0.0.1:{port}", reg)
    server = PromServer("prometheus=127.0.0.1:0", reg)
    with urllib.request.urlopen(server.url, timeout=5) as r:
        assert r.status == 200
    server.stop()
    with pytest.raises(urllib.error.URLError), urllib.request.urlopen(server.url, timeout=2):
        pass


def test_a_non_loopback_address_is_warned_about(monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Never bound for real here (tests listen on loopback only): the server class is
    replaced by one that records where it would have listened."""
    from loadgen.results import prom_server

    bound: list[tuple[str, int]] = []

    class Recorded:
        def __init__(self, host: str, port: int) -> None:
            bound.append((host, port))
            self.server_address = (host, 9464)

        def set_app(self, app: object) -> None: ...
        def serve_forever(self, poll: float) -> None: ...
        def shutdown(self) -> None: ...
        def server_close(self) -> None: ...

    monkeypatch.setattr(prom_server, "_Server", Recorded)
    reg = CollectorRegistry(auto_describe=False)
    with caplog.at_level(logging.INFO, logger="loadgen"):
        PromServer("prometheus=0.0.0.0:9464", reg).stop()
        PromServer("prometheus=127.0.0.2:9464", reg).stop()
    assert bound == [("0.0.0.0", 9464), ("127.0.0.2", 9464)]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "0.0.0.0 is not a loopback address" in warned[0], warned


def test_many_label_sets_in_one_batch_each_get_their_own_buckets() -> None:
    """Label sets live in arrays grown by doubling; a batch adds to all of them at once."""
    registry = Registry()
    rec = Recorder()
    for i in range(300):
        rec.http(i, http_tags(f"u{i % 30}", 200), float(i % 30), 0, 0, 0, 0, 1.0, 0, 0)
    got = samples(scrape_text(fed(registry, rec.drain())))
    for j in range(30):
        lab = (("method", "GET"), ("name", f"u{j}"), ("scenario", "s"), ("status", "200"))
        assert got[("loadgen_http_req_duration_seconds_count", lab)] == 10
        assert got[("loadgen_http_req_duration_seconds_sum", lab)] == pytest.approx(j / 100)
        le = tuple(sorted((*lab, ("le", "0.01"))))
        assert got[("loadgen_http_req_duration_seconds_bucket", le)] == (10 if j <= 10 else 0)
