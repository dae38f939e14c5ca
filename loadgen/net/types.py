"""Transport-neutral HTTP types: what a transport receives, and what it returns.

A transport does exactly one thing: send one request over one hop (no redirects, no cookies,
no metrics) and return a `RawResponse`; it never raises for network or protocol trouble,
it reports it in `error`/`error_code` with status 0 (k6's convention). Redirects, cookies,
tags and metrics live above it in `net/client.py`, so both transports behave the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, NamedTuple, Protocol, TypeVar

import orjson

from loadgen import extensions


class Timings(NamedTuple):
    """k6's request phases, in milliseconds (floats with ns resolution).

    A named tuple, not a dataclass: every request builds one and nothing changes it after,
    and a tuple is built in C (`make_timings`) where a dataclass needs a Python frame."""

    blocked: float = 0.0  # waiting for a free connection from the pool
    connecting: float = 0.0  # TCP connect (0 on reuse)
    tls_handshaking: float = 0.0  # TLS handshake (0 for plain HTTP or reuse)
    sending: float = 0.0  # connection ready -> request fully written
    waiting: float = 0.0  # request written -> first response byte
    receiving: float = 0.0  # first byte -> end of body

    @property
    def duration(self) -> float:
        """k6's http_req_duration: sending + waiting + receiving."""
        return self.sending + self.waiting + self.receiving


@dataclass(slots=True)
class Request:
    method: str  # upper case
    url: str  # absolute http(s) URL
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    timeout: float = 60.0  # seconds for the whole hop (k6's default timeout is 60s)
    # body bytes kept at most (wire and decompressed); None = the transport's own, 0 = no cap
    max_response_bytes: int | None = None


class Headers:
    """Response headers: an ordered multi-map with case-insensitive lookup."""

    __slots__ = ("_items",)
    #: False only when the transport knows no Set-Cookie header came (the client then
    #: skips looking for one)
    maybe_cookies = True

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items = items or []

    def get(self, name: str, default: str | None = None) -> str | None:
        n = name.lower()
        for k, v in self._items:
            if k.lower() == n:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self._items if k.lower() == n]

    def __getitem__(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class RawResponse:
    """One hop's outcome, as a transport reports it."""

    status: int = 0  # 0 when no response was received
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    proto: str = ""  # "HTTP/1.1"; "" when no response
    timings: Timings = field(default_factory=Timings)
    error: str = ""  # k6-style message ("dial: connection refused"); "" when none
    error_code: int = 0  # k6 error code (net/errors.py); 0 when none
    bytes_sent: int = 0
    bytes_received: int = 0
    tls_version: str = ""  # "tls1.3" on TLS


class Transport(Protocol):
    """Sends one request over one hop. Never raises for network errors."""

    async def send(self, request: Request) -> RawResponse: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class Response:
    """What a scenario sees: our own type, so scenarios never depend on a library's types."""

    status: int
    headers: Headers
    body: bytes
    url: str
    method: str
    proto: str = ""
    timings: Timings = field(default_factory=Timings)
    error: str = ""
    error_code: int = 0
    # Every hop when redirects were followed, oldest first (this response is the last).
    history: list[Response] = field(default_factory=list)

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.url} {self.status}>"


_T = TypeVar("_T")


def python_slots_maker(cls: type[_T], names: tuple[str, ...]) -> Callable[..., _T]:
    """A function building `cls` from one positional value per slot in `names`, without
    `__init__`: `object.__new__` and the slot stores written out in one generated function
    (as dataclasses generate `__init__`). Slots not named stay unset."""
    lines = [f"def make({', '.join(names)}):", "    o = new(cls)"]
    lines += [f"    o.{n} = {n}" for n in names]
    lines.append("    return o")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from slot names only
    maker: Callable[..., _T] = namespace["make"]
    maker.__qualname__ = maker.__name__ = f"make_{cls.__name__}"
    return maker


_MAKER = extensions.load("loadgen.net._maker")


def slots_maker(cls: type[_T], names: tuple[str, ...]) -> Callable[..., _T]:
    """The fastest builder of `cls` from positional slot values here: one C call where the
    extension was built (`_maker.c`), else python_slots_maker's generated function.

    Every request builds three or four such objects. On CPython 3.11 calling a class costs
    the type call plus an `__init__` frame: 250-340 ns for Timings, Request, RawResponse and
    Response, ~1.2 us per request in all; the generated function costs a third of that, and
    the C one no Python frame at all."""
    if _MAKER is None:
        return python_slots_maker(cls, names)
    maker: Callable[..., _T] = _MAKER.Maker(cls, names)
    return maker


def field_names(cls: type[Any]) -> tuple[str, ...]:
    """A dataclass's field names, in order."""
    return tuple(f.name for f in fields(cls))


def positional_maker(cls: type[_T]) -> Callable[..., _T]:
    """slots_maker over every dataclass field of `cls`, in order: what `cls(*values)`
    builds, without the class call's cost."""
    return slots_maker(cls, field_names(cls))


#: Timings from its six phases given as one tuple: `make_timings((b, c, t, s, w, r))` runs
#: in C (tuple.__new__), no Python frame per request
make_timings: Callable[[tuple[float, float, float, float, float, float]], Timings] = partial(
    tuple.__new__, Timings)
make_request = positional_maker(Request)
make_raw_response = positional_maker(RawResponse)
make_response = positional_maker(Response)
