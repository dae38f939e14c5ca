"""The compatibility transport: aiohttp's client, one session (pool) per VU, created lazily.

aiohttp's TraceConfig hooks give the k6 phases; redirects and cookies are switched off here
because net/client.py does them identically for every transport. The limits of net/limits.py
(body size, 1xx count, header block) and the request checks of net/validate.py are applied
here too, so both transports answer a hostile server with the same code and message.

Proxies: aiohttp's `trust_env=True` looks up ~/.netrc in a thread and re-reads the proxy
environment on every request, which cost two thirds of this transport's throughput. The
environment is read once per transport instead (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, Go's
rule that loopback is never proxied), and the proxy is passed per request when one applies.
"""

from __future__ import annotations

import ssl
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError
from yarl import URL

from loadgen.net import errors as neterr
from loadgen.net import limits
from loadgen.net.aiohttp_guards import EnvProxies, GuardedResponse, LimitBroken, clean_message
from loadgen.net.types import Headers, RawResponse, Request, Timings
from loadgen.net.validate import header_problem, url_problem


class _Trace:
    __slots__ = ("t_queue_start", "t_queue_end", "t_conn_start", "t_conn_end", "t_sent")

    def __init__(self) -> None:
        self.t_queue_start = self.t_queue_end = 0
        self.t_conn_start = self.t_conn_end = 0
        self.t_sent = 0


def _stamp(attr: str) -> Any:
    async def hook(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        tr = ctx.trace_request_ctx
        if isinstance(tr, _Trace):
            setattr(tr, attr, time.perf_counter_ns())
    return hook


def _trace_config() -> aiohttp.TraceConfig:
    tc = aiohttp.TraceConfig()
    tc.on_connection_queued_start.append(_stamp("t_queue_start"))
    tc.on_connection_queued_end.append(_stamp("t_queue_end"))
    tc.on_connection_create_start.append(_stamp("t_conn_start"))
    tc.on_connection_create_end.append(_stamp("t_conn_end"))
    tc.on_request_headers_sent.append(_stamp("t_sent"))
    return tc


def _ms(a: int, b: int) -> float:
    return max(0, b - a) / 1e6 if a and b else 0.0


def _tls_version(resp: aiohttp.ClientResponse) -> str:
    """k6's tls_version tag ("tls1.3"), read from the connection's SSL object if any."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    if transport is None:  # a fully read response has released its connection already
        transport = getattr(getattr(resp, "_protocol", None), "transport", None)
    obj = transport.get_extra_info("ssl_object") if transport is not None else None
    version = obj.version() if obj is not None else None
    return version.lower().replace("tlsv", "tls") if version else ""


def _payload_error(e: aiohttp.ClientPayloadError) -> tuple[int, str]:
    """aiohttp folds three body failures into ClientPayloadError; k6 tells them apart:
    a broken Content-Encoding (1701), a reset (1220), a truncated body ("unexpected EOF")."""
    if isinstance(e.__cause__, ContentEncodingError):
        context = e.__cause__.__context__
        return neterr.decompression(clean_message(str(context)) if context else "invalid data")
    if "ConnectionResetError" in str(e):  # aiohttp keeps the cause only in the message
        return neterr.TCP_RESET, "read: connection reset by peer"
    return neterr.UNEXPECTED_EOF


class AiohttpTransport:
    """Transport over aiohttp.ClientSession (HTTP/1.1, proxies via env, TLS)."""

    def __init__(self, *, insecure_skip_tls_verify: bool = False, limit: int = 100,
                 max_response_bytes: int | None = limits.DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = not insecure_skip_tls_verify
        self._limit = limit
        #: body bytes kept at most (after decompression); 0 or None = no cap
        self.max_response_bytes = max_response_bytes
        self._proxies = EnvProxies()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[_trace_config()], auto_decompress=True,
            skip_auto_headers=("User-Agent",), trust_env=False, response_class=GuardedResponse,
            max_line_size=limits.MAX_HEADER_BYTES, max_field_size=limits.MAX_HEADER_BYTES,
            max_headers=limits.MAX_HEADERS)
        return self._session

    async def send(self, request: Request) -> RawResponse:
        problem = url_problem(request.url) or header_problem(request.headers)
        if problem is not None:
            return RawResponse(0, Headers(), b"", "", Timings(), problem[1], problem[0])
        session = self._session or self._open()
        tr = _Trace()
        t0 = time.perf_counter_ns()
        sent = len(request.method) + len(request.url) + 12 + sum(
            len(k) + len(v) + 4 for k, v in request.headers) + len(request.body or b"")
        cap = request.max_response_bytes
        cap = (self.max_response_bytes if cap is None else cap) or 0
        url = URL(request.url, encoded=True)
        proxy, proxy_headers = self._proxies.for_url(url)
        sent_headers = request.headers
        if proxy_headers and url.scheme == "http":  # aiohttp sends proxy_headers on CONNECT
            sent_headers, proxy_headers = [*sent_headers, *proxy_headers.items()], None
        try:
            async with session.request(
                request.method, url, headers=sent_headers,
                data=request.body, allow_redirects=False, trace_request_ctx=tr,
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                proxy=proxy, proxy_headers=proxy_headers,
            ) as resp:
                t_first = time.perf_counter_ns()
                tls_version = _tls_version(resp)  # before read(): then the connection is gone
                head_bytes = len(resp.raw_headers) * 4 + sum(
                    len(k) + len(v) for k, v in resp.raw_headers) + 17
                if head_bytes > limits.MAX_HEADER_BYTES:
                    raise LimitBroken(*limits.headers_too_large())
                body = await self._read(resp, cap)
                t_end = time.perf_counter_ns()
                received = head_bytes + len(body)
                if resp.content_length is not None:
                    received = received - len(body) + resp.content_length
                headers = Headers([(k.decode("latin-1"), v.decode("latin-1"))
                                   for k, v in resp.raw_headers])
                status = resp.status
                proto = f"HTTP/{resp.version.major}.{resp.version.minor}" if resp.version else ""
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as e:
            cause = getattr(e, "certificate_error", None) or getattr(e, "os_error", None) or e
            code, msg = neterr.classify(cause, connecting=True)
            return self._error(code, msg, t0, tr, sent=0)
        except aiohttp.ClientConnectorError as e:
            code, msg = neterr.classify(e.os_error, connecting=True)
            return self._error(code, msg, t0, tr, sent=0)
        except TimeoutError:
            # aiohttp has only the whole-request timeout; k6 1.1.0 reports its expiry as
            # "request timeout" (1050) even while dialing
            return self._error(neterr.REQUEST_TIMEOUT, "request timeout", t0, tr, sent=sent)
        except aiohttp.ClientOSError as e:
            code, msg = neterr.classify(e, connecting=not tr.t_sent)
            return self._error(code, msg, t0, tr, sent=sent)
        except aiohttp.ServerDisconnectedError:
            code, msg = neterr.EOF  # closed before a response: Go's "EOF", as k6
            return self._error(code, msg, t0, tr, sent=sent)
        except aiohttp.ClientPayloadError as e:
            code, msg = _payload_error(e)
            return self._error(code, msg, t0, tr, sent=sent)
        except LimitBroken as e:
            return self._error(e.code, e.message, t0, tr, sent=sent)
        except aiohttp.ClientResponseError as e:
            text = str(e.message)
            if "Too many headers" in text:
                code, msg = limits.too_many_headers()
            elif "Got more than" in text:
                code, msg = limits.headers_too_large()
            else:
                code, msg = neterr.malformed(clean_message(text))
            return self._error(code, msg, t0, tr, sent=sent)
        except aiohttp.ClientError as e:
            return self._error(neterr.DEFAULT, clean_message(f"{type(e).__name__}: {e}"), t0, tr,
                               sent=sent)
        except ValueError as e:  # what yarl or aiohttp still refuse after validate.py
            return self._error(neterr.DEFAULT, clean_message(f"invalid request: {e}"), t0, tr,
                               sent=sent)

        timings = self._phases(t0, tr, t_first, t_end)
        return RawResponse(status, headers, body, proto, timings, "", 0, sent, received,
                           tls_version)

    @staticmethod
    async def _read(resp: aiohttp.ClientResponse, cap: int) -> bytes:
        """The body, read as it arrives (aiohttp inflates it in bounded chunks) and stopped
        at `cap` bytes: the connection is dropped rather than drained."""
        if not cap:
            return await resp.read()
        parts: list[bytes] = []
        size = 0
        while True:
            chunk = await resp.content.readany()
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                resp.close()
                encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
                raise LimitBroken(*limits.body_too_large(cap, decompressed=encoded))
            parts.append(chunk)
        return b"".join(parts)

    @staticmethod
    def _phases(t0: int, tr: _Trace, t_first: int, t_end: int) -> Timings:
        connecting = _ms(tr.t_conn_start, tr.t_conn_end)
        ready = tr.t_conn_end or tr.t_queue_end or t0
        sent = tr.t_sent or ready
        blocked = max(0.0, (ready - t0) / 1e6 - connecting)
        return Timings(blocked=blocked, connecting=connecting, tls_handshaking=0.0,
                       sending=_ms(ready, sent), waiting=_ms(sent, t_first),
                       receiving=_ms(t_first, t_end))

    @staticmethod
    def _error(code: int, msg: str, t0: int, tr: _Trace, *, sent: int) -> RawResponse:
        return RawResponse(0, Headers(), b"", "", Timings(), msg, code, sent, 0)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
