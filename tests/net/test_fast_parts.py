"""Pure parts of the fast transport: request heads, lazy headers, error mapping. No sockets."""

from __future__ import annotations

import ssl

import pytest

from loadgen.net import errors as neterr
from loadgen.net.fast_headers import RawHeaders, content_encoding, split_head
from loadgen.net.fast_request import build, head_for

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
        b"set-cookie: b=2\r\nX-Folded: one\r\n  two\r\nContent-Encoding: GZIP")


def test_request_head_bytes() -> None:
    h = build("GET", "http://127.0.0.1:8080/a/b?x=1#frag", (("User-Agent", "u"),))
    assert h.end == (b"GET /a/b?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: u\r\n"
                     b"Accept-Encoding: gzip, deflate\r\n\r\n")
    assert h.key == ("http", "127.0.0.1", 8080)
    assert h.idempotent and not h.is_head and not h.tls


def test_request_head_defaults_and_overrides() -> None:
    h = build("POST", "https://localhost/", (("Host", "other"), ("Accept-Encoding", "br")))
    assert h.key == ("https", "localhost", 443) and h.tls
    assert b"\r\nHost: other\r\n" in h.end and h.end.count(b"Host:") == 1
    assert b"gzip" not in h.end
    assert h.end.endswith(b"Content-Length: 0\r\n\r\n")  # POST without a body
    assert h.with_body(b"abc").endswith(b"Content-Length: 3\r\n\r\nabc")
    assert not h.idempotent


def test_request_head_ipv6_and_default_port() -> None:
    h = build("GET", "http://[::1]:80/", ())
    assert h.key == ("http", "::1", 80)
    assert b"\r\nHost: [::1]\r\n" in h.end


def test_request_head_encodes_unsafe_target() -> None:
    h = build("GET", "http://127.0.0.1/caf\u00e9 x", ())
    assert h.end.startswith(b"GET /caf%C3%A9%20x HTTP/1.1\r\n")


def test_request_head_keeps_caller_content_length() -> None:
    h = build("PUT", "http://127.0.0.1/", (("Content-Length", "3"),))
    assert h.with_body(b"abc").endswith(b"\r\n\r\nabc")
    assert h.with_body(b"abc").count(b"Content-Length") == 1


def test_head_cache_returns_same_object() -> None:
    a = head_for("GET", "http://127.0.0.1:1/cache", [("A", "1")])
    assert head_for("GET", "http://127.0.0.1:1/cache", [("A", "1")]) is a
    assert head_for("GET", "http://127.0.0.1:1/cache", [("A", "2")]) is not a


def test_proxy_from_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only request heads are built here: nothing is sent anywhere.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # Go never proxies loopback; neither do we
    assert build("GET", "http://127.0.0.1:8080/", ()).error_code == 0
    assert build("GET", "http://localhost:8080/", ()).error_code == 0
    # a host that is not loopback (pretend 127.0.0.2 is not) must go through the proxy
    import loadgen.net.fast_request as fr

    monkeypatch.setattr(fr, "_is_loopback", lambda host: host != "127.0.0.2")
    h = build("GET", "http://127.0.0.2/", ())
    assert h.error_code == neterr.UNSUPPORTED
    assert "--http-client aiohttp" in h.error and "proxy" in h.error
    monkeypatch.setenv("NO_PROXY", "127.0.0.2")
    assert build("GET", "http://127.0.0.2/", ()).error_code == 0


def test_raw_headers_lookup_and_split() -> None:
    h = RawHeaders(HEAD)
    assert h.get("content-type") == "text/plain"
    assert h["Content-Type"] == "text/plain"
    assert h.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert h.get("missing") is None and h.get_all("missing") == []
    assert h.get("Content") is None  # a prefix of a name is not the name
    assert "x-folded" in h and "nope" not in h
    assert h.get("X-Folded") == "one two"
    assert len(h) == 5
    assert list(h)[0] == "Content-Type"
    assert h.items() == split_head(HEAD)
    with pytest.raises(KeyError):
        h["missing"]


def test_content_encoding_lookup() -> None:
    assert content_encoding(HEAD.lower()) == b"gzip"
    assert content_encoding(b"http/1.1 200 ok\r\ncontent-length: 1") == b""


@pytest.mark.parametrize(("exc", "connecting", "expected"), [
    (ConnectionRefusedError(), True, (1212, "dial: connection refused")),
    (ConnectionResetError(), False, (1220, "read: connection reset by peer")),
    (TimeoutError(), True, (1211, "dial: i/o timeout")),
    (TimeoutError(), False, (1050, "request timeout")),
    (ssl.SSLCertVerificationError("hostname mismatch, certificate is not valid for 'x'"), True,
     (1311, "x509: certificate doesn't match hostname")),
])
def test_classify(exc: BaseException, connecting: bool, expected: tuple[int, str]) -> None:
    assert neterr.classify(exc, connecting=connecting) == expected


def test_connection_lost_messages() -> None:
    assert neterr.connection_lost(None, started=False) == (1000, "EOF")
    assert neterr.connection_lost(None, started=True) == (1000, "unexpected EOF")
    assert neterr.connection_lost(ConnectionResetError(), started=True)[0] == 1220
