"""The per-request objects built without the class call must be the same objects the class
builds: every field set, in the dataclass's order, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from loadgen.net.fast_headers import RawHeaders
from loadgen.net.types import (
    Headers,
    RawResponse,
    Request,
    Response,
    Timings,
    make_raw_response,
    make_request,
    make_response,
    make_timings,
    positional_maker,
)

H = Headers([("Content-Type", "text/plain")])
T = Timings(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
CASES = [
    (Request, make_request, ("GET", "http://127.0.0.1:9/", [("A", "b")], b"x", 5.0, 10)),
    (RawResponse, make_raw_response, (200, H, b"ok", "HTTP/1.1", T, "", 0, 10, 20, "tls1.3")),
    (Response, make_response, (404, H, b"no", "http://127.0.0.1:9/", "GET", "HTTP/1.1", T,
                               "", 1404, [])),
]


@pytest.mark.parametrize(("cls", "make", "args"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_the_maker_builds_what_the_class_builds(cls, make, args):
    made, called = make(*args), cls(*args)
    assert type(made) is cls
    assert made == called
    assert [getattr(made, f.name) for f in fields(cls)] == list(args)


def test_timings_made_from_one_tuple_are_the_class_built_ones():
    args = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    made = make_timings(args)
    assert type(made) is Timings
    assert made == Timings(*args) == Timings(blocked=1.0, connecting=2.0, tls_handshaking=3.0,
                                             sending=4.0, waiting=5.0, receiving=6.0)
    assert (made.sending, made.waiting, made.receiving, made.duration) == (4.0, 5.0, 6.0, 15.0)


def test_a_maker_takes_exactly_the_fields_so_a_new_field_cannot_be_missed():
    @dataclass(slots=True)
    class Grown:
        a: int
        b: str = ""
        c: float = 0.0

    make = positional_maker(Grown)
    assert make(1, "x", 2.5) == Grown(1, "x", 2.5)
    with pytest.raises(TypeError):
        make(1, "x")  # no defaults: every field is given, every time


def test_raw_headers_made_for_the_hot_path_read_like_the_class_built_ones():
    head = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 2"
    made, called = RawHeaders.make(head, head.lower()), RawHeaders(head, head.lower())
    assert made.get_all("set-cookie") == called.get_all("set-cookie") == ["a=1"]
    assert made.items() == called.items()
    assert RawHeaders.make(head, None).get("content-length") == "2"
