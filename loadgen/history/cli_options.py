"""The flags that act once a run is judged, shared by `run`, `http` and `merge`."""

from __future__ import annotations

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
