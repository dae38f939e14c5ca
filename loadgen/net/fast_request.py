"""Request heads for the fast transport: parse each distinct request once, keep its bytes.

A load test sends the same few (method, URL, headers) combinations millions of times, so the
request line, Host and header block are encoded once and cached; per request the transport
does one dict lookup and at most one bytes join for the body. The cache is shared by every
VU (one copy of each head, whatever the VU count) and cleared when it grows past a bound, so
a scenario with unbounded distinct URLs costs a parse per request, never unbounded memory.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Sequence
from urllib.parse import quote, unquote, urlsplit

from loadgen.net import errors as neterr
from loadgen.net.validate import header_problem

ALTERNATIVE = "use --http-client aiohttp"
IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
# Go's client sends Content-Length: 0 for these when there is no body; so do we.
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_DEFAULT_PORT = {"http": 80, "https": 443}
# Characters a request target may carry as they are; anything else is percent-encoded.
_SAFE = "!#$%&'()*+,-./:;=?@[]_~"
_CACHE_MAX = 4096
_LOOPBACK_NAMES = frozenset(("localhost", "localhost.localdomain"))


class Head:
    """Everything about one (method, URL, headers) the transport needs, pre-encoded."""

    __slots__ = ("key", "scheme", "host", "port", "tls", "head", "end", "set_length",
                 "idempotent", "is_head", "error_code", "error")

    def __init__(self) -> None:
        self.key: tuple[str, str, int] = ("", "", 0)  # the pool key (scheme, host, port)
        self.scheme = self.host = ""
        self.port = 0
        self.tls = False
        self.head = b""  # request line + headers, without the blank line
        self.end = b""  # the whole request when it has no body
        self.set_length = True  # add Content-Length for a body (the caller did not)
        self.idempotent = False
        self.is_head = False
        self.error_code = 0
        self.error = ""

    def with_body(self, body: bytes) -> bytes:
        if self.set_length:
            return b"%sContent-Length: %d\r\n\r\n%s" % (self.head, len(body), body)
        return b"%s\r\n%s" % (self.head, body)


_CACHE: dict[tuple[str, str, tuple[tuple[str, str], ...]], Head] = {}


def head_for(method: str, url: str, headers: Sequence[tuple[str, str]]) -> Head:
    """The cached head of this request; builds (and caches) it on first sight."""
    key = (method, url, tuple(headers))
    h = _CACHE.get(key)
    if h is None:
        h = build(method, url, key[2])
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = h
    return h


def _fail(code: int, message: str) -> Head:
    h = Head()
    h.error_code, h.error = code, message
    return h


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment asks for (Go's rules: never for loopback), if any."""
    if _is_loopback(host):
        return None
    for name in (f"{scheme}_proxy", "all_proxy"):
        value = os.environ.get(name) or os.environ.get(name.upper())
        if value:
            # imported here: urllib.request drags in http.client, email and more (~11 ms of
            # every start) for a look-up only a proxied environment needs
            from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

            return None if proxy_bypass_environment(host) else value
    return None


def build(method: str, url: str, headers: tuple[tuple[str, str], ...]) -> Head:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        return _fail(neterr.INVALID_URL, f"invalid URL {url[:200]!r}: {e}")
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        return _fail(neterr.UNSUPPORTED, f'unsupported protocol scheme "{scheme}" (the fast '
                     f"HTTP client speaks http and https only; {ALTERNATIVE} for others)")
    host = parts.hostname or ""
    if not host:
        return _fail(neterr.INVALID_URL, f"invalid URL {url[:200]!r}: no host")
    if _proxy_for(scheme, host):
        return _fail(neterr.UNSUPPORTED, f"a proxy is configured ({scheme.upper()}_PROXY) but "
                     f"the fast HTTP client does not support proxies; {ALTERNATIVE}")
    default = _DEFAULT_PORT[scheme]
    port = port or default
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        target = quote(target, safe=_SAFE)
    host_field = f"[{host}]" if ":" in host else host
    if port != default:
        host_field += f":{port}"

    lower = {k.lower() for k, _ in headers}
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    if "host" not in lower:
        lines.append(f"Host: {host_field}\r\n")
    problem = header_problem(headers)
    if problem is not None:
        return _fail(*problem)
    for k, v in headers:
        lines.append(f"{k}: {v}\r\n")
    if "accept-encoding" not in lower:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if parts.username is not None and "authorization" not in lower:
        cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        lines.append(f"Authorization: Basic {base64.b64encode(cred).decode()}\r\n")
    h = Head()
    h.key = (scheme, host, port)
    h.scheme, h.host, h.port, h.tls = scheme, host, port, scheme == "https"
    h.head = "".join(lines).encode("utf-8", "surrogateescape")
    h.set_length = not ({"content-length", "transfer-encoding"} & lower)
    zero = method in _BODY_METHODS and h.set_length
    h.end = h.head + (b"Content-Length: 0\r\n\r\n" if zero else b"\r\n")
    h.idempotent = method in IDEMPOTENT
    h.is_head = method == "HEAD"
    return h
