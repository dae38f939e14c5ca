"""What `loadgen run` imports before its first request: only what the run uses.

Benchmarks count the generator's whole CPU time per request, start-up included, so a plain
HTTP run must not pay for the optional parts (the aiohttp transport, the HTML report,
prometheus_client, SQLite history, YAML, the events and test types, the fleet, ...). Each
case runs the real CLI in a child process against a loopback server started here, and
reads back `sys.modules` as the run left it; the option cases check that each lazy part
is still imported, and used, when its option asks for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from servers import serve

#: modules a plain run must not import (each one was imported at start-up before)
NOT_IN_A_PLAIN_RUN = (
    "aiohttp", "prometheus_client", "yaml", "sqlite3", "importlib.metadata", "xml.etree",
    "http.server", "http.cookies", "urllib.request", "plotly", "ray", "websockets", "picows",
    "rich",
    "loadgen.api", "loadgen.data", "loadgen.events.model", "loadgen.events.recovery",
    "loadgen.fleet.coordinator", "loadgen.history.after_run", "loadgen.history.store",
    "loadgen.messaging.payloads", "loadgen.net.aiohttp_transport", "loadgen.net.ws",
    "loadgen.fleet.ray_link", "loadgen.report.build",
    "loadgen.report.collect", "loadgen.results.junit", "loadgen.results.prom_metrics",
    "loadgen.testtypes.soak", "loadgen.testtypes.spike", "loadgen.testtypes.stress",
    "loadgen.testtypes.steady", "loadgen.testtypes.delivery",
)

#: the run, in the child: loadgen's own entry point, then the modules it left behind
CHILD = textwrap.dedent("""
    import json, sys
    out, sys.argv = sys.argv[1], ["loadgen", *sys.argv[2:]]
    import loadgen.cli
    try:
        loadgen.cli.main()
        code = 0
    except SystemExit as e:
        code = e.code
    with open(out, "w") as f:
        json.dump({"exit": code, "modules": sorted(sys.modules)}, f)
""")

PLAIN = """
    import os
    from loadgen import Scenario

    class Plain(Scenario):
        async def iteration(self, vu):
            r = await vu.http.get(os.environ["STARTUP_URL"] + "/hit")
            vu.check(r, {"status is 200": lambda r: r.status == 200})
"""

WITH_EVENT = """
    import os
    from loadgen import At, Call, Scenario

    async def noop():
        return None

    class WithEvent(Scenario):
        events = [At("0s", Call(noop))]

        async def iteration(self, vu):
            await vu.http.get(os.environ["STARTUP_URL"] + "/hit")
"""


class Hits:
    """The loopback target, counting requests: the run really went through the client."""

    def __init__(self) -> None:
        self.count = 0

    def app(self) -> web.Application:
        async def hit(request: web.Request) -> web.Response:
            self.count += 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/hit", hit)
        return app


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, Hits]]:
    hits = Hits()
    with serve(hits.app) as url:
        yield url, hits


def run_child(tmp_path: Path, url: str, scenario: str, *extra: str) -> tuple[int, set[str]]:
    f = tmp_path / "scenario.py"
    f.write_text(textwrap.dedent(scenario))
    out = tmp_path / "modules.json"
    env = {**os.environ, "STARTUP_URL": url}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), "run", str(f), "-q", "--vus", "1",
         "--iterations", "1", *extra],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    got = json.loads(out.read_text())
    return got["exit"], set(got["modules"])


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_a_plain_run_imports_no_optional_part(tmp_path: Path,
                                              target: tuple[str, Hits]) -> None:
    url, hits = target
    before = hits.count
    code, modules = run_child(tmp_path, url, PLAIN)
    assert code == 0
    assert hits.count == before + 1
    assert "loadgen.net.fast" in modules  # the default transport did the request
    assert [m for m in NOT_IN_A_PLAIN_RUN if loaded(modules, m)] == []


@pytest.mark.parametrize(("args", "scenario", "module"), [
    (["--http-client", "aiohttp"], PLAIN, "aiohttp"),
    (["--report", "{tmp}/r.html"], PLAIN, "loadgen.report.build"),
    (["--junit", "{tmp}/j.xml"], PLAIN, "xml.etree"),
    (["--history", "{tmp}/h.db"], PLAIN, "sqlite3"),
    (["--thresholds", "{tmp}/t.yaml"], PLAIN, "yaml"),
    (["-o", "prometheus=127.0.0.1:0"], PLAIN, "prometheus_client"),
    ([], WITH_EVENT, "loadgen.events.runner"),
], ids=["aiohttp", "report", "junit", "history", "thresholds", "prometheus", "events"])
def test_an_option_imports_its_part(tmp_path: Path, target: tuple[str, Hits],
                                    args: list[str], scenario: str, module: str) -> None:
    url, hits = target
    (tmp_path / "t.yaml").write_text("http_req_failed: ['rate<0.5']\n")
    before = hits.count
    code, modules = run_child(tmp_path, url, scenario,
                              *(a.format(tmp=tmp_path) for a in args))
    assert code == 0
    assert hits.count == before + 1
    assert loaded(modules, module)
    written = {"--report": "r.html", "--junit": "j.xml", "--history": "h.db"}
    for flag, name in written.items():
        if flag in args:
            assert (tmp_path / name).stat().st_size > 0


def test_every_public_name_resolves() -> None:
    """`from loadgen import X` for every X of __all__ (several are imported on first use),
    the same object as where it is defined; `import loadgen` alone loads none of them."""
    code = textwrap.dedent("""
        import sys
        import loadgen
        lazy = ["loadgen.api", "loadgen.data", "loadgen.events.model",
                "loadgen.testtypes.steady", "loadgen.messaging.payloads", "loadgen.cli"]
        early = [m for m in lazy if m in sys.modules]
        import loadgen.testtypes, loadgen.events
        listed = set(dir(loadgen)) | set(dir(loadgen.testtypes)) | set(dir(loadgen.events))
        want = set(loadgen.__all__) | set(loadgen.testtypes.__all__) | set(loadgen.events.__all__)
        assert want <= listed, want - listed
        early += [m for m in lazy if m in sys.modules]
        from loadgen import *
        import loadgen.api, loadgen.data, loadgen.events.model, loadgen.events.recovery
        import loadgen.messaging.payloads, loadgen.testtypes.steady, loadgen.testtypes.base
        assert early == [], early
        for name in loadgen.__all__:
            assert name in globals(), name
        assert At is loadgen.events.model.At and Recovery is loadgen.events.recovery.Recovery
        assert Baseline is loadgen.testtypes.steady.Baseline
        assert TestType is loadgen.testtypes.base.TestType
        assert payload is loadgen.messaging.payloads.payload and data is loadgen.data
        assert run is loadgen.api.run and RunResult is loadgen.api.RunResult
        from loadgen.testtypes import Soak, SpikePlan
        from loadgen.events import HttpCall, Shell
        for bad in (loadgen, loadgen.testtypes, loadgen.events):
            try:
                bad.nope
            except AttributeError as e:
                assert "has no attribute 'nope'" in str(e), e
            else:
                raise AssertionError(bad)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
