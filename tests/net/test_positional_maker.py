"""The per-request objects built without the class call must be the same objects the class
builds: every field set, in the dataclass's order, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from loadgen import extensions
from loadgen.net.fast_headers import RawHeaders, make_raw_headers
from loadgen.net.types import (
    Headers,
    RawResponse,
    Request,
    Response,
    Timings,
    field_names,
    make_raw_response,
    make_request,
    make_response,
    make_timings,
    positional_maker,
    python_slots_maker,
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
    made = make_raw_headers(head, head.lower(), False, True)
    called = RawHeaders(head, head.lower())
    assert made.get_all("set-cookie") == called.get_all("set-cookie") == ["a=1"]
    assert made.items() == called.items() and made.maybe_cookies is called.maybe_cookies
    assert make_raw_headers(head, None, False, True).get("content-length") == "2"


_C_MAKER = extensions.load("loadgen.net._maker")
MAKERS = [python_slots_maker] + ([] if _C_MAKER is None else [_C_MAKER.Maker])


@pytest.mark.parametrize("maker", MAKERS, ids=lambda m: getattr(m, "__module__", "c"))
@pytest.mark.parametrize(("cls", "make", "args"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_both_makers_build_what_the_class_builds(maker, cls, make, args):
    made = maker(cls, field_names(cls))(*args)
    assert type(made) is cls and made == cls(*args)
    assert [getattr(made, f.name) for f in fields(cls)] == list(args)


@pytest.mark.parametrize("maker", MAKERS, ids=lambda m: getattr(m, "__module__", "c"))
def test_both_makers_leave_unnamed_slots_unset_and_refuse_a_wrong_count(maker):
    make = maker(RawHeaders, ("_head", "_lower", "_ready", "maybe_cookies"))
    h = make(b"HTTP/1.1 200 OK\r\nA: b", None, False, True)
    with pytest.raises(AttributeError):
        h._items  # noqa: B018 - unset until the headers are split
    assert h.get("a") == "b" and h.items() == [("A", "b")]
    for bad in ((b"",), (b"", None, False, True, 1)):
        with pytest.raises(TypeError):
            make(*bad)


@pytest.mark.skipif(_C_MAKER is None, reason="the C maker is not built or not in use here")
def test_c_maker_takes_only_writable_object_slots():
    class Plain:
        pass

    @dataclass(slots=True)
    class Slotted:
        a: int

    with pytest.raises(TypeError, match="not a writable object slot"):
        _C_MAKER.Maker(Plain, ("__doc__",))  # a class attribute, not a slot
    with pytest.raises(AttributeError):
        _C_MAKER.Maker(Slotted, ("b",))  # no such attribute
    with pytest.raises(TypeError, match="not a writable object slot"):
        _C_MAKER.Maker(Slotted, ("__class__",))  # a property of object
    with pytest.raises(TypeError, match="not a writable object slot"):
        _C_MAKER.Maker(Plain, ("__weakref__",))  # a getset descriptor
    Plain.stolen = Slotted.a  # type: ignore[attr-defined]  # another class's slot
    with pytest.raises(TypeError, match="not a writable object slot"):
        _C_MAKER.Maker(Plain, ("stolen",))  # its offset means nothing in a Plain
    with pytest.raises(TypeError):
        _C_MAKER.Maker(Slotted, (1,))  # names must be str
    with pytest.raises(TypeError):
        _C_MAKER.Maker(Slotted, ("a",))(a=1)  # positional only
    made = _C_MAKER.Maker(Slotted, ("a",))(7)
    assert made == Slotted(7)


def test_types_uses_the_c_maker_where_built():
    if _C_MAKER is None:
        assert make_response.__name__ == "make_Response"  # the generated Python function
    else:
        assert type(make_response) is _C_MAKER.Maker
