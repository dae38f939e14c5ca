"""`loadgen compare BASE CURRENT`: the delta table of two runs and the regression gate
(exit 99 when a `--fail-on` rule breaks, 0 otherwise, 104 for input it cannot read)."""

from __future__ import annotations

import json
import sys

from loadgen.history.compare import compare, parse_rules, render
from loadgen.history.sources import load_run


def compare_runs(base: str, current: str, history: str | None, rules: tuple[str, ...],
                 as_json: bool, all_rows: bool, no_color: bool) -> int:
    parsed = parse_rules(list(rules))  # a bad rule is found before any file is read
    cmp = compare(load_run(base, history), load_run(current, history), parsed)
    if as_json:
        sys.stdout.write(json.dumps(cmp.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render(cmp, color=sys.stdout.isatty() and not no_color,
                                all_rows=all_rows))
    return cmp.exit_code
