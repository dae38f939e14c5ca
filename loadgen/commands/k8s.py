"""`loadgen k8s FILE --workers N`: one run on N+1 pods as a Kubernetes Indexed Job, and
`loadgen pod`, the one command every pod of that Job runs.

The Job's index 0 is the coordinator (`loadgen run FILE --workers N --listen`), reached
through a headless Service whose selector matches only the pod labelled
`batch.kubernetes.io/job-completion-index: "0"`; indexes 1..N are workers 0..N-1
(`loadgen worker --connect`). The Job ends with the coordinator (`successPolicy` on index
0), and a failed gate is a verdict, not a crash: `backoffLimit: 0` and a `podFailurePolicy`
that fails the Job on any non-zero exit, so exit 99 never re-runs the test (k6-operator's
Jobs do). The scenario is a ConfigMap mounted in every pod, the shared token a Secret.
Addresses come from env vars the manifest sets (LOADGEN_LISTEN, LOADGEN_COORDINATOR) so the
same pod command runs unchanged on one machine with 127.0.0.1.
"""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

from loadgen import __version__
from loadgen.errors import ConfigError

INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
MOUNT = "/etc/loadgen/scenario"
CONTAINER = "loadgen"


def _name(file: str) -> str:
    """A DNS-1035 label from the file name: loadgen-<stem>, at most 40 characters (the Job
    controller appends suffixes to pod names)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", Path(file).stem.lower()).strip("-") or "test"
    return f"loadgen-{stem}"[:40].rstrip("-")


def manifest(file: str, workers: int, *, image: str | None = None,
             namespace: str = "default", port: int = 6565,
             run_args: list[str] | None = None, token: str | None = None,
             ) -> list[dict[str, Any]]:
    """The objects, in the order `kubectl apply` needs them."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, not {workers}")
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is outside 1..65535")
    path = Path(file)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot read the scenario file ({e})") from None
    if len(text.encode()) > 1_000_000:
        raise ConfigError(f"{file}: over the 1 MB a ConfigMap can hold")
    name = _name(file)
    meta = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name}}
    token = token or secrets.token_urlsafe(32)
    env = [
        {"name": "LOADGEN_LISTEN", "value": f"0.0.0.0:{port}"},
        {"name": "LOADGEN_COORDINATOR", "value": f"{name}.{namespace}.svc:{port}"},
        {"name": "LOADGEN_FLEET_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": name, "key": "token"}}},
    ]
    container = {
        "name": CONTAINER,
        "image": image or f"loadgen:{__version__}",
        "command": ["loadgen", "pod", f"{MOUNT}/{path.name}", "--workers", str(workers),
                    *(run_args or [])],
        "env": env,
        "ports": [{"containerPort": port, "name": "fleet"}],
        "volumeMounts": [{"name": "scenario", "mountPath": MOUNT, "readOnly": True}],
    }
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
        "spec": {
            "completionMode": "Indexed",
            "completions": workers + 1,
            "parallelism": workers + 1,
            "backoffLimit": 0,
            "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                "containerName": CONTAINER, "operator": "NotIn", "values": [0]}}]},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": [{"name": "scenario", "configMap": {"name": name}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
                 "selector": {"job-name": name, INDEX_LABEL: "0"},
                 "ports": [{"name": "fleet", "port": port, "targetPort": port}]},
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                  "data": {path.name: text}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
              "stringData": {"token": token}}
    return [config_map, secret, service, job]


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Readable YAML: the scenario as a literal block (a reviewer reads the file as
    written), and no anchors or aliases (objects share dicts only in Python)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def manifest_yaml(file: str, workers: int, **kw: Any) -> str:
    return str(yaml.dump_all(manifest(file, workers, **kw), Dumper=_Dumper, sort_keys=False))


def pod_command(file: str, workers: int, run_args: list[str], env: dict[str, str],
                ) -> list[str]:
    """The argv this pod runs, from JOB_COMPLETION_INDEX (ConfigError when it is missing)."""
    raw = env.get("JOB_COMPLETION_INDEX", "")
    if not raw.isdigit() or int(raw) > workers:
        raise ConfigError(f"JOB_COMPLETION_INDEX={raw!r}: expected 0..{workers} (set by "
                          "an Indexed Job: 0 is the coordinator, i>0 worker i-1)")
    index = int(raw)
    base = [sys.executable, "-m", "loadgen"]  # this very installation, whatever PATH says
    if index == 0:
        listen = env.get("LOADGEN_LISTEN") or "0.0.0.0:6565"
        return [*base, "run", file, "--workers", str(workers), "--listen", listen,
                *run_args]
    target = env.get("LOADGEN_COORDINATOR")
    if not target:
        raise ConfigError("LOADGEN_COORDINATOR is not set: the coordinator's HOST:PORT")
    return [*base, "worker", "--connect", target, "--index", str(index - 1),
            "--exit-0-when-done"]
