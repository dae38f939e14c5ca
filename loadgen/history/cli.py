"""The click side of run history: the flags that act once a run is judged (shared by `run`,
`http` and `merge`) and the `history`, `compare` and `trend` commands, added to the main
command group by loadgen/cli.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click


def after_run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--history", type=click.Path(dir_okay=False), metavar="PATH",
                     help="Record this run in a SQLite history file (created on first use)."),
        click.option("--history-label", metavar="LABEL",
                     help="The run's label in the history (default: the scenario file's "
                          "stem)."),
        click.option("--summary-markdown", metavar="FILE|auto",
                     help="Write a Markdown job summary (auto: append to "
                          "$GITHUB_STEP_SUMMARY)."),
        click.option("--webhook", metavar="URL",
                     help="POST a Slack-compatible message about the run here."),
        click.option("--webhook-on", type=click.Choice(["fail", "always"]), default="fail",
                     show_default=True, help="When to post to --webhook."),
    ]):
        f = option(f)
    return f


@click.command("history")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--label", help="Only the runs of this label.")
@click.option("--last", type=click.IntRange(min=1), help="Only the newest N runs.")
@click.option("--json", "as_json", is_flag=True, help="JSON, for scripts.")
def history(path: str, label: str | None, last: int | None, as_json: bool) -> None:
    """List the runs recorded in a history file (run --history PATH)."""
    from loadgen.commands.history import list_runs

    click.echo(list_runs(path, label, last, as_json), nl=False)


@click.command("compare")
@click.argument("base")
@click.argument("current")
@click.option("--history", metavar="PATH", help="Read bare run ids from this history file.")
@click.option("--fail-on", "rules", multiple=True, metavar="RULE",
              help='A regression rule such as "p95>+10%%" (repeat; default: p95>+10%%, '
                   "p99>+20%%, error_rate>+1pp, rate<-10%%).")
@click.option("--json", "as_json", is_flag=True, help="JSON, for scripts.")
@click.option("--all", "all_rows", is_flag=True, help="Every statistic, not only key rows.")
@click.option("--no-color", is_flag=True, help="No ANSI colours.")
def compare(base: str, current: str, history: str | None, rules: tuple[str, ...],
            as_json: bool, all_rows: bool, no_color: bool) -> None:
    """Compare two runs (PATH#ID history runs, summary files or results archives); exit 99
    on a regression."""
    from loadgen.commands.compare import compare_runs

    sys.exit(compare_runs(base, current, history, rules, as_json, all_rows, no_color))


@click.command("trend")
@click.option("--history", required=True, metavar="PATH", help="The history file.")
@click.option("--label", help="Only this label (default: each label on its own).")
@click.option("--window", type=int, default=7, show_default=True,
              help="Runs averaged as the baseline of each run.")
@click.option("--tolerance", default="10%", show_default=True,
              help="How much worse than the baseline counts as worse (percent).")
@click.option("--consecutive", type=int, default=3, show_default=True,
              help="Fail when the same series is worse in this many runs in a row.")
@click.option("--json", "as_json", is_flag=True, help="JSON, for scripts.")
@click.option("--html", type=click.Path(dir_okay=False), help="Write trend charts here.")
def trend(history: str, label: str | None, window: int, tolerance: str, consecutive: int,
          as_json: bool, html: str | None) -> None:
    """The trend gate: exit 99 when a series is worse than the previous runs' average in
    --consecutive runs in a row; 104 when there are too few runs to judge."""
    from loadgen.commands.trend import run_trend

    sys.exit(run_trend(history, label, window, tolerance, consecutive, as_json, html))


HISTORY_COMMANDS = [history, compare, trend]
