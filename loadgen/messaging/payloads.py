"""Large payloads with an integrity header: reproducible random bodies that are cheap to make
at hundreds per second, and `verify()` for the copy that comes back (an echo, a stored file).

Why it is shaped like this:

* **Reproducible:** the content is a function of (kind, size, seed) only, so a failing run can
  be replayed and a stored copy re-checked later; the sequence number lives in the header.
* **Cheap:** the random content and its digest state are computed once per (kind, size, seed)
  and cached (bounded by a byte budget); a new sequence number costs one header, one digest
  continuation over 8 bytes and one copy of the body (about 0.15 ms per MiB). `payload()`
  without `seq` returns the cached body itself: no copy at all.
* **Checked without copies:** verify() reads header fields and hashes through a memoryview.
  The digest (crc32 by default, 0.5 ms/MiB; blake2b-128 on request, 2 ms/MiB) covers the
  content and the sequence number, so a swapped or truncated body fails too.

Layouts (total length == the requested size):
  binary  b"LGP\\x01" | algo (1 byte) | 3 zero bytes | seq (u64 BE) | content length (u64 BE)
          | digest (16 bytes, crc32 left-aligned) | content
  json    {"lgp":1,"algo":"crc32","seq":"<20 digits>","len":"<12 digits>","digest":"<hex>",
          "data":"<content: base64 alphabet>"}   (fixed-width strings keep the size exact)
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from loadgen.metrics.model import Contains, MetricType, merge_tags

MAGIC = b"LGP\x01"
_BIN = struct.Struct(">4sB3xQQ16s")  # magic, algo, seq, content length, digest
ALGOS = {"crc32": 1, "blake2b": 2}
_ALGO_NAMES = {v: k for k, v in ALGOS.items()}
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_TEXT = bytes(_ALPHABET[b % 64] for b in range(256))
_JSON_HEAD = re.compile(rb'^\{"lgp":1,"algo":"(crc32|blake2b)","seq":"(\d{20})","len":"(\d{12})",'
                        rb'"digest":"([0-9a-f]{8}|[0-9a-f]{32})","data":"')
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30,
          "gib": 2**30}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
CACHE_BYTES = 256 * 2**20


def parse_size(size: int | str) -> int:
    """64KiB, 1MB (10**6), 1.5MiB, 512, "2k" -> bytes."""
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    m = _SIZE.match(str(size).lower())
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"invalid size {size!r}: use bytes or a unit (B, KB, MB, GB, KiB, "
                         "MiB, GiB), e.g. '64KiB' or '1MB'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


class _Cache:
    """A small LRU bounded by total bytes: the bodies are big, their number is not."""

    def __init__(self, budget: int) -> None:
        self.budget, self.used = budget, 0
        self.items: OrderedDict[tuple[Any, ...], tuple[bytes, Any]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> tuple[bytes, Any] | None:
        got = self.items.get(key)
        if got is not None:
            self.items.move_to_end(key)
        return got

    def put(self, key: tuple[Any, ...], value: tuple[bytes, Any]) -> None:
        self.items[key] = value
        self.used += len(value[0])
        while self.used > self.budget and len(self.items) > 1:
            _, (old, _) = self.items.popitem(last=False)
            self.used -= len(old)


_cache = _Cache(CACHE_BYTES)


def _digest_state(algo: str, content: bytes | memoryview) -> Any:
    if algo == "crc32":
        return zlib.crc32(content)
    return hashlib.blake2b(content, digest_size=16)


def _finish_digest(algo: str, state: Any, seq: int) -> bytes:
    seq8 = seq.to_bytes(8, "big")
    if algo == "crc32":
        return zlib.crc32(seq8, state).to_bytes(4, "big")
    h = state.copy()
    h.update(seq8)
    return bytes(h.digest())


def _content(kind: str, n: int, seed: int, algo: str) -> tuple[bytes, Any]:
    key = (kind, n, seed, algo)
    got = _cache.get(key)
    if got is None:
        raw = random.Random(seed).randbytes(n)
        data = raw.translate(_TO_TEXT) if kind == "json" else raw
        got = (data, _digest_state(algo, data))
        _cache.put(key, got)
    return got


def _json_head(algo: str, seq: int, n: int, digest: bytes) -> bytes:
    return (f'{{"lgp":1,"algo":"{algo}","seq":"{seq:020d}","len":"{n:012d}",'
            f'"digest":"{digest.hex()}","data":"').encode()


def payload(size: int | str = "64KiB", *, seed: int = 0, kind: str = "json",
            seq: int | None = None, algo: str = "crc32") -> bytes:
    """A body of exactly `size` bytes whose integrity `verify()` can check.

    Same (size, seed, kind, algo) -> same content; `seq` (e.g. the iteration or message
    number) goes into the header and the digest. Without `seq` the cached body is returned.
    """
    if kind not in ("json", "binary"):
        raise ValueError(f"kind must be 'json' or 'binary', got {kind!r}")
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {sorted(ALGOS)}, got {algo!r}")
    total = parse_size(size)
    dlen = 16 if algo == "blake2b" else 4
    head_len = (_BIN.size if kind == "binary"
                else len(_json_head(algo, 0, 0, bytes(dlen))) + 2)
    n = total - head_len
    if n < 0:
        raise ValueError(f"size {size!r} is smaller than the {head_len}-byte integrity header")
    if seq is None:
        key = ("body", kind, n, seed, algo)
        hit = _cache.get(key)
        if hit is not None:
            return hit[0]
    content, state = _content(kind, n, seed, algo)
    s = seq or 0
    digest = _finish_digest(algo, state, s)
    if kind == "binary":
        body = _BIN.pack(MAGIC, ALGOS[algo], s, n, digest.ljust(16, b"\0")) + content
    else:
        body = b"".join((_json_head(algo, s, n, digest), content, b'"}'))
    if seq is None:
        _cache.put(("body", kind, n, seed, algo), (body, None))
    return body


@dataclass(frozen=True)
class PayloadInfo:
    kind: str
    algo: str
    seq: int
    length: int  # content length
    ok: bool
    reason: str = ""


def examine(body: bytes | bytearray | memoryview | str) -> PayloadInfo:
    """Parse and check a payload made by `payload()`; never raises."""
    if isinstance(body, str):
        body = body.encode()
    mv = memoryview(body)
    if mv[:4] == MAGIC:
        return _inspect_binary(mv)
    m = _JSON_HEAD.match(mv[:200].tobytes())
    if m is None:
        return _inspect_json_slow(mv)
    algo, seq, n, hexd = m.group(1).decode(), int(m.group(2)), int(m.group(3)), m.group(4)
    start = m.end()
    if len(mv) != start + n + 2 or bytes(mv[start + n:]) != b'"}':
        return PayloadInfo("json", algo, seq, n, False, f"length {len(mv)} != {start + n + 2}")
    return _check("json", algo, seq, mv[start:start + n], bytes.fromhex(hexd.decode()))


def _inspect_binary(mv: memoryview) -> PayloadInfo:
    if len(mv) < _BIN.size:
        return PayloadInfo("binary", "", 0, 0, False, "shorter than the header")
    _, algo_id, seq, n, digest = _BIN.unpack_from(mv)
    algo = _ALGO_NAMES.get(algo_id)
    if algo is None:
        return PayloadInfo("binary", "", seq, n, False, f"unknown digest algorithm {algo_id}")
    if len(mv) != _BIN.size + n:
        return PayloadInfo("binary", algo, seq, n, False,
                           f"length {len(mv)} != {_BIN.size + n}")
    dlen = 16 if algo == "blake2b" else 4
    return _check("binary", algo, seq, mv[_BIN.size:], digest[:dlen])


def _inspect_json_slow(mv: memoryview) -> PayloadInfo:
    """A JSON copy re-serialised by a server (other spacing or key order)."""
    try:
        doc = orjson.loads(mv)
        algo, seq, n = doc["algo"], int(doc["seq"]), int(doc["len"])
        data = doc["data"].encode("ascii")
        digest = bytes.fromhex(doc["digest"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return PayloadInfo("", "", 0, 0, False, "not a loadgen payload")
    if algo not in ALGOS or len(data) != n:
        return PayloadInfo("json", str(algo), seq, n, False, "bad algo or length")
    return _check("json", algo, seq, memoryview(data), digest)


def _check(kind: str, algo: str, seq: int, content: memoryview, digest: bytes) -> PayloadInfo:
    want = _finish_digest(algo, _digest_state(algo, content), seq)
    ok = want == digest
    return PayloadInfo(kind, algo, seq, len(content), ok, "" if ok else "digest mismatch")


def verify(body: bytes | bytearray | memoryview | str, *, seq: int | None = None) -> bool:
    """True if `body` is an intact payload (and carries `seq`, when given)."""
    info = examine(body)
    return info.ok and (seq is None or info.seq == seq)


def check(vu: Any, body: bytes | bytearray | memoryview | str, *, seq: int | None = None,
          tags: dict[str, str] | None = None) -> bool:
    """verify() through a VU: one `payload_checks` sample, plus `payload_corruptions` when it
    fails (the first failure of a run is logged with its reason)."""
    meter = vu.meter
    reg = meter.registry
    m_checks = reg.get("payload_checks") or reg.define(
        "payload_checks", MetricType.COUNTER, Contains.DEFAULT)
    m_bad = reg.get("payload_corruptions") or reg.define(
        "payload_corruptions", MetricType.COUNTER, Contains.DEFAULT)
    info = examine(body)
    ok = info.ok and (seq is None or info.seq == seq)
    ts = merge_tags(vu.sample_tags, tags)
    now = meter.clock.now_ns()
    meter.recorder.sample(m_checks, 1.0, ts, now)
    if not ok:
        meter.recorder.sample(m_bad, 1.0, ts, now)
        why = info.reason or f"sequence {info.seq} != expected {seq}"
        vu.rt.log_once("payload:corrupt", f"payload integrity check failed: {why} "
                                          f"({info.kind or 'unknown'} body, {len(body)} bytes)")
    return ok
