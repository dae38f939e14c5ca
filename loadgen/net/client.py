"""`vu.http`: k6's http module over a one-method transport.

Everything that must behave the same whatever the transport lives here: URL building,
bodies, cookies, redirects (each hop its own request and its own samples, as k6), the
response callback (expected statuses), k6's request tags, and one timing record per hop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import orjson

from loadgen.metrics.model import HTTP, TagSet, merge_tags
from loadgen.net import errors as neterr
from loadgen.net import plain_get
from loadgen.net.cookies import CookieJar
from loadgen.net.meter import Meter
from loadgen.net.redact import strip_credentials
from loadgen.net.types import (
    RawResponse,
    Response,
    Timings,
    Transport,
    make_request,
    make_response,
)

USER_AGENT = "loadgen/0.1"
_BASE_HEADERS = {"User-Agent": USER_AGENT}
_BASE_HEADER_LIST = [("User-Agent", USER_AGENT)]  # shared: never mutated
REDIRECTS = (301, 302, 303, 307, 308)
# Go's http.Client drops these on a redirect to another host, as k6 does (net/http's
# shouldCopyHeaderOnRedirect); we also drop them on an https -> http downgrade
SENSITIVE = frozenset(("authorization", "proxy-authorization", "www-authenticate", "cookie",
                       "cookie2"))
REDIRECT_LIMIT_WARNING = (
    "Stopped after {n} redirects and returned the redirection; pass {{ redirects: n }} in "
    "request params or set global maxRedirects to silence this")
log = logging.getLogger("loadgen")
_DEFAULT: Any = object()
# the verbs as scenarios spell them -> k6's upper case, without a new string per request
_METHODS = {m: m for m in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")}
_METHODS.update({m.lower(): m for m in _METHODS})
ExpectedStatuses = Sequence[int | tuple[int, int]] | None
#: k6's default expected statuses (the Scenario default); `_record` knows it by identity
K6_EXPECTED: ExpectedStatuses = ((200, 399),)


def is_expected(status: int, expected: ExpectedStatuses) -> bool:
    assert expected is not None
    for e in expected:
        if isinstance(e, tuple):
            if e[0] <= status <= e[1]:
                return True
        elif status == e:
            return True
    return False


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def keeps_credentials(initial: str, target: str) -> bool:
    """Go's rule for a redirect: Authorization, Cookie and the like go on only to the same
    host or one of its subdomains (the port does not matter), and never from https down
    to http."""
    if initial.startswith("https:") and target.startswith("http:"):
        return False
    return same_or_subdomain(_host(target), _host(initial))


def same_or_subdomain(host: str, of: str) -> bool:
    """Whether `host` is `of` or one of its subdomains (a label boundary, not a suffix:
    "badapp.test" is not under "app.test"); an empty `of` matches nothing."""
    return bool(of) and (host == of or host.endswith("." + of))


def _log_warning(key: str, message: str) -> None:
    log.warning(message)


def interrupted(elapsed_ms: float) -> RawResponse:
    """A request cut off in flight by the end of its VU: status 0, failed, and its elapsed
    time as the duration (a lower bound of what the user would have waited)."""
    code, message = neterr.INTERRUPTED
    return RawResponse(timings=Timings(waiting=elapsed_ms), error=message, error_code=code)


class HttpClient:
    """One VU's HTTP client: its own cookie jar and transport (connection pool), as in k6.
    It records through the VU's meter, so it never needs the VU itself."""

    __slots__ = ("meter", "transport", "base_url", "cookies", "max_redirects", "timeout",
                 "expected", "_tag_cache", "max_response_bytes", "warn_once", "_exchange",
                 "_plain")

    def __init__(self, meter: Meter, transport: Transport, *, base_url: str | None,
                 expected: ExpectedStatuses, tag_cache: dict[tuple[Any, ...], TagSet],
                 max_redirects: int = 10, timeout: float = 60.0,
                 max_response_bytes: int | None = None,
                 warn_once: Callable[[str, str], None] = _log_warning) -> None:
        self.meter = meter
        self.transport = transport
        #: the transport's send() taking the request's fields (FastTransport.exchange)
        self._exchange: Callable[..., Coroutine[Any, Any, RawResponse]] | None = getattr(
            transport, "exchange", None)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.cookies = CookieJar()
        self.max_redirects = max_redirects
        self.timeout = timeout
        self.expected = expected
        self._tag_cache = tag_cache
        #: the scenario's body cap (None: the transport's, i.e. --max-response-bytes)
        self.max_response_bytes = max_response_bytes
        #: warn_once(key, message): the run logs each key once (a flood of requests hitting
        #: the same limit must not flood the log)
        self.warn_once = warn_once
        #: get(url) without options goes through the C plain GET (net/plain_get.py)
        self._plain = _PLAIN_GET is not None and plain_get.applies(transport, meter)

    # -- URL and body -------------------------------------------------------------------
    def url_for(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        if "://" not in url:
            if not self.base_url:
                raise ValueError(
                    f"relative URL {url!r} but no base URL: set BASE_URL (environment or "
                    "--env BASE_URL=http://127.0.0.1:8000) or the scenario's base_url")
            url = self.base_url + ("" if url.startswith("/") else "/") + url
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    @staticmethod
    def encode_body(headers: dict[str, str], json: Any, data: Any,
                    body: bytes | str | None) -> bytes | None:
        if json is _DEFAULT and data is None and body is None:
            return None
        lower = {k.lower() for k in headers}
        if json is not _DEFAULT:
            if "content-type" not in lower:
                headers["Content-Type"] = "application/json"
            return orjson.dumps(json)
        if data is not None:
            if isinstance(data, Mapping):
                if "content-type" not in lower:
                    headers["Content-Type"] = "application/x-www-form-urlencoded"
                return urlencode(data, doseq=True).encode()
            return data.encode() if isinstance(data, str) else bytes(data)
        if body is not None:
            return body.encode() if isinstance(body, str) else body
        return None

    # -- requests -----------------------------------------------------------------------
    async def request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None, json: Any = _DEFAULT, data: Any = None,
        body: bytes | str | None = None, name: str | None = None,
        tags: Mapping[str, str] | None = None, timeout: float | None = None,  # noqa: ASYNC109
        redirects: int | None = None, expected_statuses: Any = _DEFAULT,
        cookies: Mapping[str, str] | None = None, max_response_bytes: int | None = None,
        _resume: RawResponse | tuple[int, int, float] | None = None,
    ) -> Response:
        """k6's http.request(). `_resume` is the C plain GET's hand-over (net/_get.c): the
        first hop's response when it is one the C path leaves to this code (an error, a
        redirect, a body to decode, cookies), or (t0, bytes sent, deadline) when its pooled
        connection was stale and the request goes out once more on a fresh one."""
        method = _METHODS.get(method) or method.upper()
        target = url if not params and "://" in url else self.url_for(url, params)
        if headers or json is not _DEFAULT or data is not None:
            hdrs = {"User-Agent": USER_AGENT}
            if headers:
                hdrs.update(headers)
            payload = self.encode_body(hdrs, json, data, body)
            fixed = list(hdrs.items())
        else:  # the common GET: one shared header list, no dict churn
            hdrs = _BASE_HEADERS
            payload = body.encode() if isinstance(body, str) else body
            fixed = _BASE_HEADER_LIST
        expected = self.expected if expected_statuses is _DEFAULT else expected_statuses
        max_hops = self.max_redirects if redirects is None else redirects
        limiter = self.meter.limiter
        if limiter is not None:
            await limiter.wait()
        cap = self.max_response_bytes if max_response_bytes is None else max_response_bytes
        history: list[Response] = []
        initial = target
        own_cookies = dict(cookies) if cookies else None
        trace = self.meter.trace
        if trace is not None and headers and any(k.lower() == trace.lower for k in headers):
            trace = None  # the scenario sends its own
        trace_id = None
        while True:
            req_headers = fixed
            cookie = (self.cookies.header_for(target, own_cookies)
                      if own_cookies or self.cookies.entries else None)
            if cookie:
                req_headers = [*fixed, ("Cookie", cookie)]
            if trace is not None:  # fresh per hop: each hop is a request of its own
                value, trace_id = trace.new()
                req_headers = [*req_headers, (trace.header, value)]
            sent_ns = self.meter.clock.now_ns()
            try:
                if _resume is not None:
                    if type(_resume) is tuple:
                        assert self._exchange is not None
                        raw = await self._exchange(method, target, req_headers, payload,
                                                   timeout or self.timeout, cap, _resume)
                    else:
                        raw = _resume  # type: ignore[assignment]
                    _resume = None
                elif self._exchange is not None:  # the fast transport: no Request object
                    raw = await self._exchange(method, target, req_headers, payload,
                                               timeout or self.timeout, cap)
                else:
                    raw = await self.transport.send(
                        make_request(method, target, req_headers, payload,
                                     timeout or self.timeout, cap))
            except asyncio.CancelledError:
                # The VU was stopped with this request in flight: record it, or a target
                # that never answers leaves no sample and passes every latency gate.
                self._record(method, target, name, tags, interrupted(
                    (self.meter.clock.now_ns() - sent_ns) / 1e6), expected, trace_id)
                raise
            self._record(method, target, name, tags, raw, expected, trace_id)
            status = raw.status
            raw_headers = raw.headers
            if status and raw_headers.maybe_cookies:
                set_cookie = raw_headers.get_all("set-cookie")
                if set_cookie:
                    self.cookies.update_from(target, set_cookie)
            # neterr.status_error_code, inlined: 1000 + status for statuses >= 400
            resp = make_response(status, raw_headers, raw.body, target, method, raw.proto,
                                 raw.timings, raw.error,
                                 raw.error_code or (1000 + status if status >= 400 else 0),
                                 history)
            location = raw_headers.get("location") if status in REDIRECTS else None
            if location is None:
                return resp
            if len(history) >= max_hops:
                if redirects is None and max_hops:
                    self.warn_once("http-redirect-limit",
                                   REDIRECT_LIMIT_WARNING.format(n=max_hops)
                                   + f" (first seen for {strip_credentials(initial)})")
                return resp
            history = [*history, resp]
            target = urljoin(target, location)
            if not keeps_credentials(initial, target):
                # the user's credentials stay with the host they were meant for; the jar's
                # cookies still go wherever their domain matches
                fixed = [(k, v) for k, v in fixed if k.lower() not in SENSITIVE]
                hdrs = dict(fixed)
                own_cookies = None
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                payload = None
                hdrs = {k: v for k, v in hdrs.items()
                        if k.lower() not in ("content-type", "content-length")}
                fixed = list(hdrs.items())

    def _record(self, method: str, url: str, name: str | None, tags: Mapping[str, str] | None,
                raw: RawResponse, expected: ExpectedStatuses,
                trace_id: str | None = None) -> None:
        m = self.meter
        m.bytes_sent += raw.bytes_sent
        m.bytes_received += raw.bytes_received
        status = raw.status
        if expected is K6_EXPECTED:
            ok: bool | None = 200 <= status <= 399
        else:
            ok = None if expected is None else is_expected(status, expected)
        base = m.tags.sample_tags
        if raw.error or raw.error_code or tags:
            key: tuple[Any, ...] = (base, method, url, name, status, raw.proto, ok, raw.error,
                                    raw.error_code, tuple(tags.items()) if tags else None,
                                    raw.tls_version)
        else:  # the common case: a shorter key to build and hash
            key = (base, method, url, name, status, raw.proto, ok, raw.tls_version)
        ts = self._tag_cache.get(key)
        if ts is None:
            url_tag = name or strip_credentials(url)
            d = {"method": method, "url": url_tag, "name": url_tag, "status": str(status)}
            if raw.proto:
                d["proto"] = raw.proto
            if raw.tls_version:
                d["tls_version"] = raw.tls_version
            if ok is not None:
                d["expected_response"] = "true" if ok else "false"
            code = raw.error_code or neterr.status_error_code(status)
            if raw.error:
                d["error"] = raw.error
            if code:
                d["error_code"] = str(code)
            ts = merge_tags(base, d, tags)
            if len(self._tag_cache) > 50_000:
                self._tag_cache.clear()
            self._tag_cache[key] = ts
        t = raw.timings
        duration = t.sending + t.waiting + t.receiving
        # Recorder.http's record, appended here (one call fewer per request)
        m.recorder.records.append(
            (HTTP, m.clock.now_ns(), ts, duration, t.blocked, t.connecting, t.tls_handshaking,
             t.sending, t.waiting, t.receiving, None if ok is None else (0 if ok else 1)))
        slowest = m.slowest
        if slowest is not None and duration > slowest.floor:  # only the N slowest so far
            slowest.offer(duration, method, url, ts, status, trace_id)

    # The verbs hand back request()'s own coroutine (still awaited as `await vu.http.get()`):
    # an `async def` wrapper cost one more coroutine object and frame resume per request.
    def get(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        if not kw:  # a plain call: no keyword unpacking for the most common request
            if self._plain:
                return _PLAIN_GET(self, url)  # type: ignore[misc]
            return self.request("GET", url)
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("HEAD", url, **kw)

    def options(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("OPTIONS", url, **kw)

    def post(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("DELETE", url, **kw)


#: the C plain GET for HttpClient.get (None where it was not built: request() does it all)
_PLAIN_GET = plain_get.enable(HttpClient, K6_EXPECTED, is_expected, interrupted,
                              _BASE_HEADER_LIST)
