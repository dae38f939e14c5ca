"""The cookie jar's Expires and Max-Age handling, and its bad input (the cookie parser and
the date parser are imported by the first Set-Cookie header, so that path is checked here)."""

from __future__ import annotations

from loadgen.net.cookies import CookieJar

URL = "http://127.0.0.1:8080/app/page"


def test_expires_in_the_future_keeps_in_the_past_deletes() -> None:
    jar = CookieJar()
    jar.update_from(URL, ["a=1; Path=/; Expires=Wed, 01 Jan 2200 00:00:00 GMT",
                          "b=2; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"])
    assert jar.header_for(URL) == "a=1"
    jar.update_from(URL, ["a=gone; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"])
    assert jar.header_for(URL) is None


def test_max_age_wins_and_bad_dates_or_headers_do_not_raise() -> None:
    jar = CookieJar()
    jar.update_from(URL, ["c=3; Path=/; Max-Age=0; Expires=Wed, 01 Jan 2200 00:00:00 GMT",
                          "d=4; Path=/; Expires=Xyz, 99 Foo 2200 00:00:00 GMT", "=; ;;\x00"])
    assert jar.header_for(URL) == "d=4"
