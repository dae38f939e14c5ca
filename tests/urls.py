"""URLs the tests need with user info in them (credentials that must never be printed),
built from a plain loopback URL so every URL written in the tests names its host first."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_user(url: str, user: str, password: str) -> str:
    """`url` with `user:password@` before its host."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))
