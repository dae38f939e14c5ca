"""What the aiohttp transport adds around aiohttp so it answers like the fast one (and Go).

aiohttp alone reads informational responses without end, loses a parsed response when
bytes follow its Content-Length in the same packet, and, with `trust_env=True`, makes two
thread hops per request for the proxy environment and ~/.netrc. These small pieces fix
that from the outside (a response class, a parser wrapper, a proxy table read once), so
aiohttp_transport.py stays about sending a request and timing it.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from typing import Any

import aiohttp
from aiohttp.helpers import strip_auth_from_url
from yarl import URL

from loadgen.net import limits

_LOOPBACK_NAMES = frozenset(("localhost", "localhost.localdomain"))


class LimitBroken(aiohttp.ClientError):
    """A limit of net/limits.py was broken; carries the (code, message) to report."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _content_length(head: bytes) -> int | None:
    """The Content-Length framing a response head declares; None when the body is framed
    otherwise (chunked, none, until close) and the parser alone must judge it."""
    lower = head.lower()
    if lower[9:12] in (b"204", b"304") or b"\r\ntransfer-encoding:" in lower:
        return None
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return None
    end = lower.find(b"\r\n", at + 2)
    value = lower[at + 17:end if end >= 0 else len(lower)].strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


class FramedParser:
    """aiohttp's parser fails the whole read when bytes follow a Content-Length-framed
    response in the same packet, and the response it had parsed is lost inside it. Go (k6)
    reads exactly Content-Length bytes and drops the connection's leftovers; so does this
    wrapper: it feeds the parser no byte past the response's end and marks the connection
    not reusable. Everything else goes to the parser untouched."""

    __slots__ = ("parser", "protocol", "buf", "left", "framed")

    def __init__(self, parser: Any, protocol: Any) -> None:
        self.parser = parser
        self.protocol = protocol
        self.buf = b""  # the head so far, until the final response's head is complete
        self.left = 0  # body bytes still expected once the head is known
        self.framed: bool | None = None  # None: head not seen yet

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parser, name)

    def feed_data(self, data: Any) -> Any:
        if self.framed is False:
            return self.parser.feed_data(data)
        data = bytes(data)
        if self.framed is None:
            buf = self.buf + data
            start = 0
            while True:
                end = buf.find(b"\r\n\r\n", start)
                if end < 0:
                    self.buf = buf[start:]
                    if len(self.buf) > limits.MAX_HEADER_BYTES:
                        self.framed, self.buf = False, b""
                    return self.parser.feed_data(data)
                if buf[start + 9:start + 10] == b"1" and buf[start + 9:start + 12] != b"101":
                    start = end + 4  # an informational head: the final one follows
                    continue
                break
            self.buf = b""
            length = _content_length(buf[start:end])
            if length is None:
                self.framed = False
                return self.parser.feed_data(data)
            self.framed = True
            body_here = len(buf) - end - 4
            if body_here > length:
                data = data[:len(data) - (body_here - length)]
                self.protocol.force_close()
            self.left = max(0, length - body_here)
        elif len(data) > self.left:
            data = data[:self.left]
            self.protocol.force_close()
            self.left = 0
        else:
            self.left -= len(data)
        # an empty feed too: aiohttp feeds b"" to drain a paused parser's tail
        return self.parser.feed_data(data)


class GuardedResponse(aiohttp.ClientResponse):
    """aiohttp reads informational responses in an unbounded loop (an endless `102
    Processing` pins a core); this counts them and stops after Go's five. It also frames a
    Content-Length body as Go does (FramedParser)."""

    async def start(self, connection: Any) -> Any:
        protocol = connection.protocol
        read = protocol.read
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message, payload = await read()
            if 100 <= message.code < 200 and message.code != 101:
                seen += 1
                if seen > limits.MAX_INFORMATIONAL:
                    raise LimitBroken(*limits.too_many_informational())
            return message, payload

        protocol.read = counted
        if self.method != "HEAD" and getattr(protocol, "_parser", None) is not None:
            protocol._parser = FramedParser(protocol._parser, protocol)
        try:
            return await super().start(connection)
        finally:
            del protocol.read  # the class's own method again


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


Proxy = tuple[URL | None, dict[str, str] | None]  # (proxy, proxy headers)
_NO_PROXY: Proxy = (None, None)


class EnvProxies:
    """The environment's proxies, read once; per (scheme, host) the proxy to use and its
    credentials (from the proxy URL's user info, as aiohttp's own environment path did)."""

    __slots__ = ("env", "cache")

    def __init__(self) -> None:
        self.env = {k: v for k, v in urllib.request.getproxies_environment().items()
                    if k in ("http", "https", "all", "no")}
        self.cache: dict[tuple[str, str], Proxy] = {}

    def for_url(self, url: URL) -> Proxy:
        if not self.env.keys() - {"no"}:
            return _NO_PROXY  # the common case: no proxy configured, nothing to look up
        key = (url.scheme, url.host or "")
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        proxy = self.env.get(url.scheme) or self.env.get("all")
        host = key[1]
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        found = _NO_PROXY
        if proxy and not (_is_loopback(host) or bypass(host, self.env)):
            bare, auth = strip_auth_from_url(URL(proxy if "://" in proxy else f"http://{proxy}"))
            found = (bare, {"Proxy-Authorization": auth.encode()} if auth else None)
        if len(self.cache) > 1024:
            self.cache.clear()
        self.cache[key] = found
        return found


def clean_message(message: str) -> str:
    """A parser's message without the raw server bytes it quotes: first line, printable,
    short (the `error` tag is a label, not a dump)."""
    line = message.strip().split("\n", 1)[0].split(":\n", 1)[0]
    line = "".join(c if " " <= c < "\x7f" else "?" for c in line)
    return line[:120]
