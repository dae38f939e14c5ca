"""The one place that maps low-level network errors to k6's error codes and messages.

k6's codes (lib/netext/httpext/error_codes.go) are what dashboards group by, so both
transports report the same code for the same failure.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

DEFAULT = 1000
NON_TCP = 1010
INVALID_URL = 1020
REQUEST_TIMEOUT = 1050
DNS = 1100
DNS_NO_SUCH_HOST = 1101
TCP = 1200
TCP_BROKEN_PIPE = 1201
TCP_UNKNOWN_ERRNO = 1202
TCP_DIAL = 1210
TCP_DIAL_TIMEOUT = 1211
TCP_DIAL_REFUSED = 1212
TCP_DIAL_UNKNOWN_ERRNO = 1213
TCP_RESET = 1220
TLS = 1300
X509_UNKNOWN_AUTHORITY = 1310
X509_HOSTNAME = 1311
DECOMPRESSION = 1701
# beyond k6: a response that is not valid HTTP (k6 reports these as 1000 too; we say why)
MALFORMED_RESPONSE = 1000
# beyond k6: what a transport cannot do (a proxy, another scheme); k6 has no code, so 1000
UNSUPPORTED = 1000
# beyond k6: a body over the transport's max_response_bytes (the connection is dropped)
RESPONSE_TOO_LARGE = 1000
# beyond k6: a request still in flight when its VU was stopped (end of gracefulStop, a stop
# request, Ctrl-C). k6 records nothing for it; loadgen records it as failed, in k6's request
# timeout family (1050), with its elapsed time as a lower bound of its duration.
INTERRUPTED = (REQUEST_TIMEOUT, "request interrupted: no response before the VU was stopped")

# What k6 1.1.0 reports (checked against the binary on a raw loopback server) when the server
# closes the connection: before any response byte, Go's "EOF"; inside a response (headers or a
# truncated body), "unexpected EOF"; both with the default code 1000 and status 0.
EOF = (DEFAULT, "EOF")
UNEXPECTED_EOF = (DEFAULT, "unexpected EOF")


def decompression(detail: str) -> tuple[int, str]:
    """k6: status 0, code 1701, "error decompressing response body (unexpected EOF)"."""
    return DECOMPRESSION, f"error decompressing response body ({detail})"


def malformed(detail: str) -> tuple[int, str]:
    """A response that is not HTTP/1.x (k6: 1000, e.g. 'malformed HTTP status code "X"')."""
    return MALFORMED_RESPONSE, f"malformed HTTP response ({detail})"


def connection_lost(exc: BaseException | None, *, started: bool) -> tuple[int, str]:
    """The server closed (exc None) or reset the connection while a request was in flight.

    `started` says whether any byte of the response had arrived (k6: "unexpected EOF" then,
    "EOF" before).
    """
    if exc is None:
        return UNEXPECTED_EOF if started else EOF
    return classify(exc, connecting=False)


def status_error_code(status: int) -> int:
    """k6 tags HTTP statuses >= 400 with error_code 1000 + status and no `error` tag."""
    return 1000 + status if status >= 400 else 0


def classify(exc: BaseException, *, connecting: bool) -> tuple[int, str]:
    """Map an exception raised while sending one hop to (k6 code, k6-style message).

    `connecting` says whether the failure happened before the connection was established
    (k6 prefixes those with "dial:").
    """
    op = "dial" if connecting else "read"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        if connecting:
            return TCP_DIAL_TIMEOUT, "dial: i/o timeout"
        return REQUEST_TIMEOUT, "request timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = str(exc)
        if "match" in msg or "hostname" in msg.lower():
            return X509_HOSTNAME, "x509: certificate doesn't match hostname"
        return X509_UNKNOWN_AUTHORITY, "x509: unknown authority"
    if isinstance(exc, ssl.SSLError):
        return TLS, f"tls: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return DNS_NO_SUCH_HOST, "lookup: no such host"
        return DNS, f"lookup: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return TCP_DIAL_REFUSED, "dial: connection refused"
    if isinstance(exc, ConnectionResetError):
        return TCP_RESET, f"{op}: connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return TCP_BROKEN_PIPE, "write: broken pipe"
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.ECONNREFUSED:
            return TCP_DIAL_REFUSED, "dial: connection refused"
        if exc.errno == errno.ECONNRESET:
            return TCP_RESET, f"{op}: connection reset by peer"
        if connecting:
            return TCP_DIAL_UNKNOWN_ERRNO, f"dial: unknown errno {exc.errno} error with msg `{exc}`"
        return TCP_UNKNOWN_ERRNO, f"{op}: unknown errno `{exc.errno}` with message `{exc}`"
    if isinstance(exc, OSError):
        return (TCP_DIAL, f"dial: {exc}") if connecting else (TCP, f"{op}: {exc}")
    return DEFAULT, str(exc) or type(exc).__name__
