"""Response headers of the fast transport, split from the raw head only when read.

Most responses of a load test are never looked at beyond the status and the body, so the
transport keeps the head (status line + header lines) as the bytes it arrived as. A lookup
of one header (the client asks for Set-Cookie on every response) is a search in the
lower-cased head; the full split into (name, value) pairs happens at most once, on first
use of the whole list.
"""

from __future__ import annotations

from collections.abc import Iterator

from loadgen.net.types import Headers, slots_maker


def split_head(head: bytes) -> list[tuple[str, str]]:
    """The header lines of a raw head as (name, value) strings, in order; obsolete folded
    continuation lines are joined to the previous value."""
    items: list[tuple[str, str]] = []
    for line in head.split(b"\r\n")[1:]:
        if line[:1] in (b" ", b"\t") and items:
            prev_name, prev_value = items[-1]
            items[-1] = (prev_name, f"{prev_value} {line.strip().decode('latin-1')}")
            continue
        raw_name, sep, raw_value = line.partition(b":")
        if sep:
            items.append((raw_name.strip().decode("latin-1"),
                          raw_value.strip().decode("latin-1")))
    return items


_KEYS: dict[str, bytes] = {}  # header name -> b"\n" + its lower-cased bytes


def _key(name: str) -> bytes:
    key = _KEYS.get(name)
    if key is None:
        key = b"\n" + name.lower().encode("latin-1")
        if len(_KEYS) < 1024:
            _KEYS[name] = key
    return key


class RawHeaders(Headers):
    """`Headers` over a raw response head, decoded lazily."""

    __slots__ = ("_head", "_lower", "_ready", "maybe_cookies")

    def __init__(self, head: bytes, lower: bytes | None = None) -> None:
        self._head = head
        self._lower = lower  # head.lower(), when the caller already has it
        self._ready = False
        self.maybe_cookies = True

    def _load(self) -> list[tuple[str, str]]:
        if not self._ready:
            self._items = split_head(self._head)
            self._ready = True
        return self._items

    def _absent(self, name: str) -> bool:
        """True when no header line starts with `name:` (a longer name may share the
        prefix: "Content" vs "Content-Type")."""
        lower = self._lower or b""
        key = _key(name)
        at = lower.find(key)
        while at >= 0:
            end = at + len(key)
            if lower[end:end + 1] in (b":", b" ", b"\t"):
                return False
            at = lower.find(key, at + 1)
        return True

    def get(self, name: str, default: str | None = None) -> str | None:
        lower = self._lower
        if lower is None:
            lower = self._lower = self._head.lower()
        if lower.find(_KEYS.get(name) or _key(name)) < 0 or self._absent(name):
            return default
        self._load()
        return super().get(name, default)

    def get_all(self, name: str) -> list[str]:
        # the client asks every response for Set-Cookie: one find answers "none" cheaply
        lower = self._lower
        if lower is None:
            lower = self._lower = self._head.lower()
        if lower.find(_KEYS.get(name) or _key(name)) < 0 or self._absent(name):
            return []
        self._load()
        return super().get_all(name)

    def items(self) -> list[tuple[str, str]]:
        return list(self._load())

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"Headers({self._load()!r})"


#: `make_raw_headers(head, lower, False, maybe_cookies)` is `RawHeaders(head, lower)` for
#: the per-response path, without the class call (see net/types.slots_maker)
make_raw_headers = slots_maker(RawHeaders, ("_head", "_lower", "_ready", "maybe_cookies"))


def content_encoding(lower: bytes) -> bytes:
    """The Content-Encoding of a lower-cased raw head; b"" when there is none."""
    at = lower.find(b"\r\ncontent-encoding:")
    if at < 0:
        return b""
    end = lower.find(b"\r\n", at + 2)
    return lower[at + 19:end if end >= 0 else len(lower)].strip()
