"""`loadgen http METHOD URL`: a one-line scenario for profiling a single endpoint.

It builds an ordinary Scenario class, so the ad-hoc run goes through exactly the same
engine, metrics, thresholds and results as a scenario file.
"""

from __future__ import annotations

from typing import Any

from loadgen.scripting.scenario import Scenario


def endpoint_scenario(method: str, url: str, *, headers: dict[str, str] | None = None,
                      body: bytes | None = None, expect: int | None = None) -> type[Scenario]:
    """A scenario whose every iteration is one request (and one status check if asked)."""
    req_headers = dict(headers or {})
    m = method.upper()

    class Http(Scenario):
        name = "http"

        async def iteration(self, vu: Any) -> None:
            r = await vu.http.request(m, url, headers=req_headers, body=body)
            if expect is not None:
                vu.check(r, {f"status is {expect}": lambda r: r.status == expect})

    Http.__doc__ = f"{m} {url}"
    return Http
