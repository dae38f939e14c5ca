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
    d = DemoConfig()
    p.add_argument("--pool-size", type=int, default=d.pool_size,
                   help=f"storage connections (default {d.pool_size})")
    p.add_argument("--pool-timeout", type=float, default=d.pool_timeout_s,
                   help=f"seconds to wait for a connection (default {d.pool_timeout_s:g})")
    p.add_argument("--breaker-failures", type=int, default=d.breaker_failures,
                   help=f"failures that open the breaker, 0: none (default {d.breaker_failures})")
    p.add_argument("--breaker-cooldown", type=float, default=d.breaker_cooldown_s,
                   help=f"seconds open before half-open (default {d.breaker_cooldown_s:g})")
    return p


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    faults = Faults.from_dict({"latency_ms": args.latency_ms, "error_rate": args.error_rate})
    bad = [f"{name} must be {why}" for name, ok, why in (
        ("--pool-size", 1 <= args.pool_size <= 100_000, "in [1, 100000]"),
        ("--pool-timeout", 0 <= args.pool_timeout <= 60, "in [0, 60]"),
        ("--breaker-failures", 0 <= args.breaker_failures <= 1_000_000, ">= 0"),
        ("--breaker-cooldown", 0 <= args.breaker_cooldown <= 3600, "in [0, 3600]"),
    ) if not ok]
    if bad:
        raise ValueError("; ".join(bad))
    return DemoConfig(seed=args.seed, faults=faults, pool_size=args.pool_size,
                      pool_timeout_s=args.pool_timeout, breaker_failures=args.breaker_failures,
                      breaker_cooldown_s=args.breaker_cooldown)


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
