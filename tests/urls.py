"""URLs the tests need with user info in them (credentials that must never be printed),
built from a plain loopback URL so every URL written in the tests names its host first."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def with_user(url: str, user: str, password: str | None) -> str:
    """`url` with `user:password@` (or `user@` when password is None) before its host."""
    parts = urlsplit(url)
    info = user if password is None else f"{user}:{password}"
    return urlunsplit(parts._replace(netloc=f"{info}@{parts.netloc}"))
