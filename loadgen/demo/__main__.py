"""`python -m loadgen.demo`: run the demo service without the loadgen CLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from loadgen.demo.config import DemoConfig, Faults
from loadgen.demo.server import serve


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadgen.demo", description="Run the loadgen demo target service."
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port, 0 = any free (default 8000)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="latency added to each request")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 503")
    p.add_argument("--seed", type=int, default=None, help="seed for every random draw")
    return p


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    faults = Faults.from_dict({"latency_ms": args.latency_ms, "error_rate": args.error_rate})
    return DemoConfig(seed=args.seed, faults=faults)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    serve(args.host, args.port, config)


if __name__ == "__main__":
    main()
