"""One exception tree; every class carries the k6 exit code the CLI turns it into.

k6's codes (k6-compat.md §3.7) are what CI gates read, so an error's class decides the
process exit status and nothing else does.
"""

from __future__ import annotations


class ExitCode:
    OK = 0
    THRESHOLDS_FAILED = 99
    SETUP_TIMEOUT = 100
    TEARDOWN_TIMEOUT = 101
    INVALID_CONFIG = 104
    EXTERNAL_ABORT = 105
    SCRIPT_EXCEPTION = 107
    SCRIPT_ABORTED = 108
    TEST_FAILED = 110
    CLI_USAGE = 255


class LoadgenError(Exception):
    """Base of every error loadgen raises on purpose."""

    exit_code = 1


class ConfigError(LoadgenError):
    """Invalid options; carries every problem found, not just the first (exit 104)."""

    exit_code = ExitCode.INVALID_CONFIG

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = "\n".join(f"\t- {p}" for p in self.problems)
        return f"There were problems with the specified script configuration:\n{lines}"


class ScriptError(LoadgenError):
    """The scenario file failed to import, or setup()/teardown() raised (exit 107)."""

    exit_code = ExitCode.SCRIPT_EXCEPTION


class UsageError(LoadgenError):
    """Bad command line: missing file, unknown flag value (exit 255, as k6)."""

    exit_code = ExitCode.CLI_USAGE


class TestAborted(LoadgenError):
    """A scenario called vu.abort() (k6's exec.test.abort(), exit 108)."""

    __test__ = False  # not a pytest class
    exit_code = ExitCode.SCRIPT_ABORTED
