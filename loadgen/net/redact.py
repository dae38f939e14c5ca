"""Passwords in URLs never leave loadgen: not in tags, errors, nor log lines.

A URL with user info (`user:secret@` before the host) is legitimate input (the clients send it as
Basic auth), but everything loadgen prints or tags is shared: CI logs, result files, summary
exports. Tags drop the user info entirely (k6's `url` tag: "request URL with credentials
removed"); messages keep the user name, which helps to debug, and mask the password.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@ - the password stops at the first '@' of the authority
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@?#]*:)[^/\s@?#]*@")


def strip_credentials(url: str) -> str:
    """The URL without its user info (what k6 puts in the `url` tag)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(text: str) -> str:
    """`text` (a URL, an error message, a log line) with every URL password masked."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: m.group("head") + MASK + "@", text)
