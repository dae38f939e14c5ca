"""Large payloads: exact sizes, reproducible content, corruption caught (unit and through a
corrupting loopback server), cheap to make."""

from __future__ import annotations

import time

import orjson
import pytest
from wshelpers import RealHarness
from wsserver import Hub

from loadgen.messaging import payloads
from loadgen.messaging.payloads import check, examine, parse_size, payload, verify


@pytest.mark.parametrize(("text", "n"), [("64KiB", 65536), ("1MB", 10**6), ("1.5MiB", 1572864),
                                         ("512", 512), ("2k", 2000), (4096, 4096)])
def test_sizes(text, n):
    assert parse_size(text) == n


def test_bad_sizes_are_explained():
    with pytest.raises(ValueError, match="invalid size '12 parsecs'"):
        parse_size("12 parsecs")
    with pytest.raises(ValueError, match="smaller than the 40-byte integrity header"):
        payload(10, kind="binary")


@pytest.mark.parametrize("kind", ["json", "binary"])
@pytest.mark.parametrize("algo", ["crc32", "blake2b"])
def test_exact_size_reproducible_and_verified(kind, algo):
    p = payload("64KiB", seed=7, kind=kind, seq=42, algo=algo)
    assert len(p) == 65536
    assert p == payload("64KiB", seed=7, kind=kind, seq=42, algo=algo)
    assert p != payload("64KiB", seed=8, kind=kind, seq=42, algo=algo)
    info = examine(p)
    assert (info.ok, info.kind, info.algo, info.seq) == (True, kind, algo, 42)
    assert verify(p, seq=42) and not verify(p, seq=43)
    if kind == "json":
        assert orjson.loads(p)["seq"] == "00000000000000000042"


@pytest.mark.parametrize("kind", ["json", "binary"])
def test_any_flipped_byte_or_truncation_is_caught(kind):
    p = payload("16KiB", seed=1, kind=kind, seq=3)
    for pos in range(0, len(p), 97):  # header and content
        b = bytearray(p)
        b[pos] ^= 0x01
        assert not verify(bytes(b)), pos
    assert not verify(p[:-1]) and not verify(p + b"x") and not verify(b"")


def test_a_reserialised_json_copy_still_verifies():
    p = payload("8KiB", seq=5)
    pretty = orjson.dumps(orjson.loads(p), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    assert verify(pretty, seq=5) and verify(p.decode())
    doc = orjson.loads(p)
    doc["data"] = "A" + doc["data"][1:]
    assert not verify(orjson.dumps(doc))


def test_cheap_to_make_and_the_cache_is_bounded():
    payload("1MiB", kind="binary", seed=99, seq=0)  # warm: content and digest state cached
    t = time.perf_counter()
    for i in range(100):
        payload("1MiB", kind="binary", seed=99, seq=i)
    assert (time.perf_counter() - t) / 100 < 0.005  # well under 5 ms per 1 MiB body
    assert payload("1MiB", seed=99) is payload("1MiB", seed=99)  # no seq: no copy at all
    assert payloads._cache.used <= payloads.CACHE_BYTES + 2**21


async def test_a_corrupting_ws_echo_is_caught_and_counted(hub: Hub, harness: RealHarness):
    hub.corrupt_every = 10
    vu = harness.vu()
    async with await vu.ws.connect("/ws/echo") as s:
        for i in range(30):
            await s.send(payload("64KiB", kind="binary", seed=2, seq=i))
            check(vu, await s.recv(timeout=5), seq=i)
    assert hub.corrupted == 3
    assert harness.total("payload_checks") == 30
    assert harness.total("payload_corruptions") == 3
    assert harness.run_ctx._logged["payload:corrupt"] == 3


async def test_a_corrupting_http_echo_is_caught_and_counted(hub: Hub, harness: RealHarness):
    hub.corrupt_every = 5
    vu = harness.vu()
    try:
        for i in range(10):
            r = await vu.http.post("/echo", body=payload("256KiB", seq=i),
                                   headers={"Content-Type": "application/json"})
            assert r.status == 200
            check(vu, r.body, seq=i, tags={"path": "http"})
    finally:
        await harness.run_ctx.close()
    assert harness.total("payload_corruptions", path="http") == 2
    assert harness.total("payload_checks", path="http") == 10
