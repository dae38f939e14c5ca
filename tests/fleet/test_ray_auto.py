"""`--workers auto --ray`: as many workers as the Ray cluster has CPUs, not this machine's
cores. A stand-in `ray` module plays a cluster of any size (no cluster needed)."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from loadgen.errors import ConfigError
from loadgen.fleet.ray_link import RayLauncher


def fake_ray(monkeypatch: pytest.MonkeyPatch, cpus: float) -> dict[str, Any]:
    calls: dict[str, Any] = {}
    ray = types.ModuleType("ray")
    ray.exceptions = types.SimpleNamespace(RayError=RuntimeError)  # type: ignore[attr-defined]
    ray.init = lambda **kw: calls.setdefault("init", kw)  # type: ignore[attr-defined]
    ray.cluster_resources = lambda: {"CPU": cpus, "memory": 1e9}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ray", ray)
    return calls


def test_auto_counts_the_clusters_cpus(monkeypatch: pytest.MonkeyPatch):
    calls = fake_ray(monkeypatch, 48.0)
    launcher = RayLauncher("127.0.0.2:6379", None, None)
    n, why = launcher.auto_workers(["http://127.0.0.1:8000"])  # a cluster: no core kept back
    assert n == 48 and "48 CPU(s) of the Ray cluster at 127.0.0.2:6379" in why
    assert calls["init"]["address"] == "127.0.0.2:6379" and launcher.started_ray


def test_auto_on_a_local_ray_leaves_a_cpu_to_a_loopback_target(
        monkeypatch: pytest.MonkeyPatch):
    calls = fake_ray(monkeypatch, 8.0)
    n, why = RayLauncher("local", None, None).auto_workers(["http://127.0.0.1:8000"])
    assert n == 7 and "one left to the loopback target" in why
    assert calls["init"]["num_cpus"] is None  # Ray counts the machine


def test_a_cluster_without_cpus_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    fake_ray(monkeypatch, 0.0)
    with pytest.raises(ConfigError, match="reports no CPU"):
        RayLauncher("127.0.0.2:6379", None, None).auto_workers([None])
