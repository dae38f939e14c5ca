"""The `loadgen` command line: flags -> options -> exit code. No logic of its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from loadgen.errors import ConfigError, ExitCode, LoadgenError
from loadgen.history.cli import HISTORY_COMMANDS, after_run_options


def _report_options() -> list[Callable[..., Any]]:
    """--junit and --summary-by-name: for run, http and merge alike."""
    return [
        click.option("--junit", type=click.Path(dir_okay=False), metavar="FILE.xml",
                     help="Write thresholds, checks and verdicts as a JUnit XML report."),
        click.option("--summary-by-name", is_flag=True,
                     help="A per-request-name table (with SLO budgets) in the text summary."),
    ]


def _request_options(f: Callable[..., None]) -> Callable[..., None]:
    """--slowest and --trace-header: for run and http."""
    for option in reversed([
        click.option("--slowest", type=int, default=10, show_default=True, metavar="N",
                     help="List the N slowest requests in the summary (0: off)."),
        click.option("--trace-header", is_flag=False, flag_value="traceparent",
                     metavar="[NAME]", help="Send a fresh trace id with each request "
                     "(traceparent: W3C format; any other name: a 32-hex id). Put it after "
                     "FILE or write --trace-header=NAME."),
    ]):
        f = option(f)
    return f


def _summary_options(f: Callable[..., None]) -> Callable[..., None]:
    """The end-of-test summary flags, the same for a run and for a merge of runs."""
    for option in reversed([
        click.option("--summary-export", type=click.Path(dir_okay=False),
                     help="Write k6's legacy JSON summary export here."),
        click.option("--summary-json", type=click.Path(dir_okay=False),
                     help="Write the handleSummary() data object as JSON here."),
        click.option("--summary-trend-stats",
                     help="Trend columns, e.g. avg,min,med,max,p(90),p(95)."),
        click.option("--summary-time-unit", type=click.Choice(["s", "ms", "us"]),
                     help="Time unit for the text summary."),
        click.option("--no-summary", is_flag=True, help="No end-of-test summary or exports."),
        *_report_options(),
    ]):
        f = option(f)
    return f


def _placement_options(f: Callable[..., None]) -> Callable[..., None]:
    """Where a --workers fleet's workers run, the same for `run` and `http`."""
    for option in reversed([
        click.option("--ray", "ray_address", is_flag=False, flag_value="local",
                     metavar="[ADDRESS]",
                     help="Place the --workers as Ray actors: on a local Ray started for the "
                          "run, or on the cluster at ADDRESS (pip install 'loadgen[ray]')."),
        click.option("--listen", metavar="HOST:PORT",
                     help="With --workers N: wait for N workers to connect here (loadgen "
                          "worker --connect) instead of starting local processes."),
        click.option("--fleet-token", envvar="LOADGEN_FLEET_TOKEN", metavar="TOKEN",
                     help="The secret workers must present to join (env "
                          "LOADGEN_FLEET_TOKEN)."),
        click.option("--join-timeout", type=float, default=300.0, show_default=True,
                     metavar="SECONDS", help="With --listen: how long to wait for every "
                                             "worker."),
    ]):
        f = option(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loadgen")
def cli() -> None:
    """loadgen: native-Python load testing with k6-compatible thresholds and results."""


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-u", "--vus", type=int, help="Number of VUs (k6 shortcut).")
@click.option("-d", "--duration", help="Test duration, e.g. 30s, 5m (k6 shortcut).")
@click.option("-i", "--iterations", type=int, help="Total iterations (shared-iterations).")
@click.option("-s", "--stage", "stages", multiple=True, metavar="DURATION:TARGET",
              help="A ramping-vus stage; repeat for several.")
@click.option("--rps", type=float,
              help="Open model: run the selected scenarios at N iterations/s for --duration.")
@click.option("--max-vus", type=int, help="With --rps: the most VUs the arrival rate may use.")
@click.option("--rps-limit", type=float, help="k6's --rps: a global cap on requests per second.")
@click.option("--scenario", "scenarios", multiple=True, help="Run only this scenario (repeat).")
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE",
              help="Environment variable for the scenarios (repeat).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="A tag added to every sample (repeat).")
@click.option("--thresholds", "threshold_files", multiple=True, type=click.Path(dir_okay=False),
              help="A threshold file (YAML or JSON) added to the scenarios' own (repeat).")
@click.option("--no-thresholds", is_flag=True, help="Do not evaluate thresholds.")
@_summary_options
@click.option("-o", "--out", "outputs", multiple=True, metavar="json=FILE|prometheus=HOST:PORT",
              help="Stream results: json=FILE (k6 NDJSON); json=FILE?points=raw|buckets; "
                   "prometheus=HOST:PORT serves them live (port 0: any free one); repeat.")
@click.option("--report", type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Write a single-file HTML report (opens offline).")
@click.option("--archive", type=click.Path(dir_okay=False),
              help="Write the results archive here (per-second snapshots `loadgen merge` "
                   "adds up across runs).")
@click.option("--http-client", type=click.Choice(["aiohttp", "fast"]), default=None,
              help="HTTP transport (default: fast when available).")
@click.option("--insecure-skip-tls-verify", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--max-response-bytes", type=int, metavar="N",
              help="Body bytes kept per response, on the wire and decompressed; a bigger "
                   "body is an error sample (default 67108864 = 64 MiB; 0: no cap).")
@click.option("--monitor-pid", "monitor_pids", multiple=True, type=int,
              help="Sample this process's RSS/CPU/open fds/threads as target_* metrics.")
@click.option("--scrape", "scrape_urls", multiple=True, metavar="URL",
              help="Scrape this Prometheus endpoint every second into gauge metrics.")
@click.option("--execution-segment", metavar="FROM:TO",
              help="Run only this share of the test, e.g. 1/3:2/3 (k6's execution segments).")
@click.option("--execution-segment-sequence", metavar="0,1/3,2/3,1",
              help="The segments every instance of a split test uses (k6's syntax).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.option("--progress-interval", type=float, metavar="SECONDS",
              help="Seconds between progress frames (default: 1 on a terminal, 10 in a log).")
@click.option("--no-color", is_flag=True, help="No ANSI colours in the summary.")
@click.option("--events-off", is_flag=True,
              help="Do not run the scenarios' events (nor their recovery verdicts): a "
                   "baseline run of the same file.")
@click.option("--workers", metavar="N|auto",
              help="Run the test across N local processes (auto: the usable cores, one "
                   "fewer for a loopback target), judged as one run.")
@_placement_options
@after_run_options
@_request_options
def run(**kw: Any) -> None:
    """Run the scenarios in FILE and exit with k6's exit codes."""
    from loadgen.commands.run import RunConfig, run_file

    sys.exit(_run(RunConfig.from_cli(kw), kw, run_file))


def _run(cfg: Any, kw: dict[str, Any], run_file: Any) -> int:
    """The single-process path, untouched, unless --workers asks for a fleet."""
    cfg.results.after_run = _after_run(kw, cfg.file)
    workers = kw.pop("workers", None)
    remote = {k: kw.pop(k, None) for k in ("listen", "fleet_token", "join_timeout")}
    if remote["listen"] and workers is None:
        raise ConfigError("--listen needs --workers N (how many workers to wait for)")
    if remote["listen"] and kw.get("ray_address") is not None:
        raise ConfigError("--listen and --ray both place the workers: choose one")
    ray_address = kw.pop("ray_address", None)
    launcher = None
    if ray_address is not None:
        from loadgen.fleet.ray_link import RayLauncher

        try:
            launcher = RayLauncher.from_cli(ray_address, workers, kw.get("file"))
        except ConfigError as e:
            print(f"loadgen: {e}", file=sys.stderr)
            return e.exit_code
    if workers is None:
        return int(run_file(cfg))
    from loadgen.fleet.coordinator import run_fleet

    return run_fleet(cfg, kw, workers, launcher, remote if remote["listen"] else None)


@cli.command("http")
@click.argument("method")
@click.argument("url")
@click.option("-H", "--header", "headers", multiple=True, metavar="NAME:VALUE")
@click.option("--body", help="Request body (use @FILE to read a file).")
@click.option("--expect", type=int, help="Check that every response has this status.")
@click.option("-u", "--vus", type=int)
@click.option("-d", "--duration", default="10s", show_default=True)
@click.option("-i", "--iterations", type=int)
@click.option("--rps", type=float, help="Open model at N requests/s (else closed, --vus).")
@click.option("--max-vus", type=int)
@click.option("--thresholds", "threshold_files", multiple=True, type=click.Path(dir_okay=False))
@click.option("--summary-export", type=click.Path(dir_okay=False))
@click.option("--summary-json", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "outputs", multiple=True)
@click.option("--archive", type=click.Path(dir_okay=False),
              help="Write the results archive here (for `loadgen merge`).")
@click.option("--report", type=click.Path(dir_okay=False), metavar="FILE.html",
              help="Write a single-file HTML report (opens offline).")
@click.option("--http-client", type=click.Choice(["aiohttp", "fast"]), default=None)
@click.option("--insecure-skip-tls-verify", is_flag=True)
@click.option("--max-response-bytes", type=int, metavar="N",
              help="Body bytes kept per response (default 64 MiB; 0: no cap).")
@click.option("--execution-segment", metavar="FROM:TO")
@click.option("--execution-segment-sequence", metavar="0,1/3,2/3,1")
@click.option("-q", "--quiet", is_flag=True)
@click.option("--progress-interval", type=float, metavar="SECONDS")
@click.option("--workers", metavar="N|auto", help="Run across N local processes.")
@_placement_options
@after_run_options
@_request_options
@click.option("--junit", type=click.Path(dir_okay=False), metavar="FILE.xml")
@click.option("--summary-by-name", is_flag=True)
def http(method: str, url: str, headers: tuple[str, ...], body: str | None,
         expect: int | None, **kw: Any) -> None:
    """Load one endpoint: loadgen http GET http://127.0.0.1:8080/ --rps 2000 -d 30s"""
    from pathlib import Path

    from loadgen.commands.http import endpoint_scenario
    from loadgen.commands.run import RunConfig, run_file

    hdrs = dict(h.split(":", 1) for h in headers if ":" in h)
    hdrs = {k.strip(): v.strip() for k, v in hdrs.items()}
    data = None
    if body is not None and body.startswith("@"):
        try:
            data = Path(body[1:]).read_bytes()
        except OSError as e:
            raise ConfigError(f"--body {body}: {e.strerror or e}") from None
    elif body is not None:
        data = body.encode()
    if kw.get("vus") is None and kw.get("rps") is None:
        kw["vus"] = 1
    cfg = RunConfig.from_cli({**kw, "file": f"{method.upper()} {url}"})
    cfg.classes = [endpoint_scenario(method, url, headers=hdrs, body=data, expect=expect)]
    cfg.endpoint = {"method": method, "url": url, "headers": hdrs, "body": data,
                    "expect": expect}
    sys.exit(_run(cfg, kw, run_file))


@cli.command()
@click.argument("summary", type=click.Path(dir_okay=False, exists=True))
@click.option("--thresholds", "threshold_files", multiple=True, required=True,
              type=click.Path(dir_okay=False, exists=True), help="Threshold file (repeat).")
def check(summary: str, threshold_files: tuple[str, ...]) -> None:
    """Judge an existing summary (loadgen's or k6's --summary-export / handleSummary JSON)
    against threshold files; exit 0 (pass), 99 (fail) or 104 (cannot judge)."""
    from loadgen.commands.check import check_summary, load_summary_file
    from loadgen.thresholds import load_threshold_file, merge_thresholds

    raw = merge_thresholds([load_threshold_file(f) for f in threshold_files])
    result = check_summary(load_summary_file(summary), raw)
    click.echo(result.render())
    sys.exit(result.exit_code)


@cli.command()
@click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--thresholds", "threshold_files", multiple=True, type=click.Path(dir_okay=False),
              help="A threshold file added to the archived thresholds (repeat).")
@click.option("--no-thresholds", is_flag=True, help="Do not evaluate thresholds.")
@_summary_options
@click.option("-o", "--out", "outputs", multiple=True, metavar="json=FILE?points=buckets",
              help="The per-second NDJSON stream of the merged runs.")
@click.option("--no-color", is_flag=True, help="No ANSI colours in the summary.")
@after_run_options
def merge(archives: tuple[str, ...], **kw: Any) -> None:
    """Merge the results archives of several runs (`run --archive`) into one summary, JSON
    files and exit code, as if one run had made all their samples."""
    from loadgen.commands.merge import merge_archives
    from loadgen.results.config import ResultsConfig

    rcfg = ResultsConfig.from_cli(kw)
    rcfg.after_run = _after_run(kw, None)
    sys.exit(merge_archives(list(archives), rcfg))


def _after_run(kw: dict[str, Any], file: str | None) -> Any:
    """--history, --summary-markdown, --webhook (popped: fleet workers never act on them)."""
    flags = {k: kw.pop(k, None) for k in ("history", "history_label", "summary_markdown",
                                          "webhook", "webhook_on")}
    if not any(flags[k] for k in ("history", "summary_markdown", "webhook")):
        return None  # AfterRun.from_cli's own None, without importing history (sqlite3 & co.)
    from loadgen.history.after_run import AfterRun

    return AfterRun.from_cli({**kw, **flags, "file": file})


@cli.command("report")
@click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
              metavar="FILE.html", help="The HTML file to write.")
@click.option("--thresholds", "threshold_files", multiple=True, type=click.Path(dir_okay=False),
              help="A threshold file added to the archived thresholds (repeat).")
@click.option("--no-thresholds", is_flag=True, help="Do not evaluate thresholds.")
def report(archives: tuple[str, ...], out: str, threshold_files: tuple[str, ...],
           no_thresholds: bool) -> None:
    """A single-file HTML report of one or more results archives (`run --archive`)."""
    from loadgen.commands.report import report_archives

    sys.exit(report_archives(list(archives), out, list(threshold_files), no_thresholds))


@cli.command("demo-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo_server(host: str, port: int) -> None:
    """Start the reference messaging service (loopback by default)."""
    from loadgen.demo.server import serve

    serve(host, port)


@cli.command("worker", context_settings={"ignore_unknown_options": True,
                                         "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """A fleet worker: loadgen worker --connect HOST:PORT --index I (see --help)."""
    from loadgen.fleet.worker import main as worker_main

    worker_main(list(args))


@cli.command("pod", context_settings={"ignore_unknown_options": True})
@click.argument("file")
@click.option("--workers", type=int, required=True)
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def pod(file: str, workers: int, run_args: tuple[str, ...]) -> None:
    """One pod of `loadgen k8s`'s Job: JOB_COMPLETION_INDEX 0 is the coordinator, i>0 is
    worker i-1 (addresses from LOADGEN_LISTEN / LOADGEN_COORDINATOR)."""
    from loadgen.commands.k8s import pod_command

    argv = pod_command(file, workers, list(run_args), dict(os.environ))
    os.execv(argv[0], argv)


@cli.command("k8s")
@click.argument("file")
@click.option("--workers", type=int, required=True, help="Worker pods (plus a coordinator).")
@click.option("--image", default=None, help="A container image with loadgen installed.")
@click.option("--namespace", default="default", show_default=True)
@click.option("--port", type=int, default=6565, show_default=True)
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def k8s(file: str, workers: int, image: str | None, namespace: str, port: int,
        run_args: tuple[str, ...]) -> None:
    """Print a Kubernetes Indexed Job (YAML) that runs FILE on N worker pods as one run;
    options after `--` go to `loadgen run`."""
    from loadgen.commands.k8s import manifest_yaml

    click.echo(manifest_yaml(file, workers, image=image, namespace=namespace, port=port,
                             run_args=list(run_args)), nl=False)


for _command in HISTORY_COMMANDS:  # history, compare, trend
    cli.add_command(_command)


def main() -> None:
    for name in ("stdout", "stderr"):  # started with a closed descriptor (`>&-`)
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - lives until exit
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(ExitCode.EXTERNAL_ABORT)
    except click.UsageError as e:
        e.show()
        sys.exit(ExitCode.CLI_USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitCode.CLI_USAGE)
    except LoadgenError as e:
        click.echo(f"loadgen: {e}", err=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
