"""Sub-metric selectors in threshold keys (k6-compat.md §0.4, §3.5)."""

from __future__ import annotations

import pytest

from loadgen.metrics.selectors import SelectorError, parse_selector, parse_tags, split_name

P = "unable to validate threshold expressions; reason: parsing metric name failed, "


@pytest.mark.parametrize(
    ("key", "parent", "name", "tags"),
    [
        ("http_reqs", "http_reqs", "http_reqs", None),
        ("http_req_duration{status:200}", "http_req_duration", "http_req_duration{status:200}",
         (("status", "200"),)),
        # inner spaces and quotes stay in the name; tags are trimmed and unquoted
        ('http_req_duration{ status : "404" }', "http_req_duration",
         'http_req_duration{status : "404"}', (("status", "404"),)),
        ("http_req_duration{status:200,method:GET}", "http_req_duration",
         "http_req_duration{status:200,method:GET}", (("method", "GET"), ("status", "200"))),
        ("http_reqs{group:::front::nested}", "http_reqs", "http_reqs{group:::front::nested}",
         (("group", "::front::nested"),)),
        ("checks{check:status is 200}", "checks", "checks{check:status is 200}",
         (("check", "status is 200"),)),
        ("http_reqs{ 'name' : 'x' }", "http_reqs", "http_reqs{'name' : 'x'}", (("name", "x"),)),
        ("http_reqs{tag: }", "http_reqs", "http_reqs{tag:}", (("tag", ""),)),
    ],
)
def test_parse(key: str, parent: str, name: str, tags: object) -> None:
    sel = parse_selector(key)
    assert (sel.parent, sel.name, sel.tags, sel.key) == (parent, name, tags, key)
    assert sel.is_submetric is (tags is not None)


def test_two_spellings_same_tags() -> None:
    a = parse_selector('http_req_duration{ status : "404" }')
    b = parse_selector("http_req_duration{status:404}")
    assert a.tags == b.tags and a.name != b.name


@pytest.mark.parametrize(
    ("key", "message"),
    [  # k6 v1.1.0 wording, verified with the real binary (exit 104)
        ("iterations{tag:}", P + 'metric "tag:" tag expression is malformed'),
        ("iterations{}", P + 'metric "" tag expression is malformed'),
        ("iterations{a:b", P + 'metric "iterations{a:b" has unmatched opening/close curly brace'),
        ("iterations{a:b}x", P + 'metric "iterations{a:b}x" lacks a closing curly brace in '
                                 "its last position"),
        ("iterations}a:b{", P + 'metric "iterations}a:b{" closing curly brace appears before '
                                "opening one"),
        ("iterations{a}", P + 'metric "a" tag expression is malformed'),
        ("iterations{a:b,}", P + 'metric "" tag expression is malformed'),
    ],
)
def test_invalid(key: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(key)
    assert str(info.value) == message


def test_parse_tags_and_split() -> None:
    assert parse_tags('a:1, "b" :\'2\'') == (("a", "1"), ("b", "2"))
    assert parse_tags("a:1,a:2") == (("a", "2"),)  # last one wins, like TagSet.With
    assert split_name("x{a:b}") == ("x", "{a:b}")
    assert split_name("x") == ("x", "")
