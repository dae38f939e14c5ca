"""A per-VU cookie jar (k6 keeps cookies per VU): enough of RFC 6265 for load tests.

Domain and path matching, Max-Age/Expires deletion; no public-suffix list (loopback and
staging hosts do not need one).

http.cookies and email.utils are imported by the first Set-Cookie header: every VU has a jar,
most runs never receive a cookie, and start-up CPU counts in the CPU per request.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit


class CookieJar:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        #: (domain, path, name) -> (value, host_only, expires_at or None); the client tests
        #: it before calling header_for, so a VU without cookies pays no call per request
        self.entries: dict[tuple[str, str, str], tuple[str, bool, float | None]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def update_from(self, url: str, set_cookie_headers: list[str]) -> None:
        if not set_cookie_headers:
            return
        from http.cookies import CookieError, SimpleCookie
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        default_path = parts.path.rsplit("/", 1)[0] or "/"
        for header in set_cookie_headers:
            jar = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                domain = morsel["domain"].lstrip(".").lower() or host
                host_only = not morsel["domain"]
                if not host_only and not (host == domain or host.endswith("." + domain)):
                    continue  # a server may not set cookies for another domain
                path = morsel["path"] or default_path
                expires: float | None = None
                if morsel["max-age"]:
                    try:
                        expires = time.time() + int(morsel["max-age"])
                    except ValueError:
                        expires = None
                elif morsel["expires"]:
                    from email.utils import parsedate_to_datetime

                    try:
                        expires = parsedate_to_datetime(morsel["expires"]).timestamp()
                    except (TypeError, ValueError):
                        expires = None
                key = (domain, path, name)
                if expires is not None and expires <= time.time():
                    self.entries.pop(key, None)
                else:
                    self.entries[key] = (morsel.value, host_only, expires)

    def header_for(self, url: str, extra: dict[str, str] | None = None) -> str | None:
        """The Cookie header value for a request to `url` (None when no cookie applies)."""
        if not self.entries and not extra:
            return None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        now = time.time()
        pairs: dict[str, str] = {}
        for (domain, cpath, name), (value, host_only, expires) in list(self.entries.items()):
            if expires is not None and expires <= now:
                del self.entries[(domain, cpath, name)]
                continue
            if host_only and host != domain:
                continue
            if not host_only and not (host == domain or host.endswith("." + domain)):
                continue
            if not (path == cpath or path.startswith(cpath.rstrip("/") + "/")):
                continue
            pairs[name] = value
        if extra:
            pairs.update(extra)
        return "; ".join(f"{k}={v}" for k, v in pairs.items()) or None

    def clear(self) -> None:
        self.entries.clear()
