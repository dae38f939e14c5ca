"""pytest plugin (entry point `pytest11`): a load test as a test, failing with its thresholds.

Two spellings, one behaviour - the run is judged as `loadgen run` judges it, and a run that
does not pass fails the test with the failed thresholds and their observed values:

    def test_checkout_latency(loadgen):
        result = loadgen(Checkout, duration="2s", rps=50)   # fails the test unless it passes
        assert result.metrics["http_reqs"]["values"]["count"] > 0

    @pytest.mark.loadgen(Checkout, duration="2s", rps=50)
    def test_checkout_gate(loadgen_result):              # the run happens in set-up
        ...

`loadgen(..., check=False)` returns a failed result instead of failing the test.
`--loadgen-base-url URL` (or the `loadgen_base_url` ini value) is every run's BASE_URL unless
the call names its own `base_url`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # loaded on first use: every pytest session loads this plugin
    from loadgen.api import RunResult, Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("loadgen")
    group.addoption("--loadgen-base-url", default=None, metavar="URL",
                    help="BASE_URL for the loadgen fixture's and marker's runs.")
    parser.addini("loadgen_base_url", "BASE_URL for loadgen runs (--loadgen-base-url wins).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "loadgen(target, **options): run this load test (loadgen.run's options) "
        "in the test's set-up; the test fails unless it passes (fixture: loadgen_result)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A marked test runs its load even when it does not ask for `loadgen_result`."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if item.get_closest_marker("loadgen") is not None and isinstance(names, list) and (
                "loadgen_result" not in names):
            names.append("loadgen_result")


def _base_url(config: pytest.Config) -> str | None:
    url = config.getoption("loadgen_base_url") or config.getini("loadgen_base_url")
    return str(url) if url else None


def gate(result: RunResult) -> RunResult:
    """Fail the current test (no traceback into loadgen) unless the run passed."""
    if not result.passed:
        pytest.fail(result.explain(), pytrace=False)
    return result


@pytest.fixture
def loadgen(request: pytest.FixtureRequest) -> Callable[..., RunResult]:
    """`loadgen(target, **options)`: loadgen.run() that fails the test unless it passes."""
    url = _base_url(request.config)

    def call(target: Target, *, check: bool = True, **options: Any) -> RunResult:
        from loadgen.api import run

        env = options.get("env")
        if url and "base_url" not in options and not (
                isinstance(env, dict) and "BASE_URL" in env):
            options["base_url"] = url
        result = run(target, **options)
        return gate(result) if check else result

    return call


@pytest.fixture
def loadgen_result(request: pytest.FixtureRequest,
                   loadgen: Callable[..., RunResult]) -> RunResult:
    """The result of the test's `@pytest.mark.loadgen(target, **options)` run."""
    mark = request.node.get_closest_marker("loadgen")
    if mark is None or len(mark.args) != 1:
        pytest.fail("loadgen_result needs @pytest.mark.loadgen(target, **options) on the test "
                    "(one target: a scenario file, a Scenario class or a list of them)",
                    pytrace=False)
    return loadgen(mark.args[0], **mark.kwargs)
