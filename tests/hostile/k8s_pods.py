"""Play a `loadgen k8s` manifest on this machine: what the kubelet would do for each pod of
the Indexed Job, with loopback addresses instead of the Service's name.

The ConfigMap is written to a folder that stands for its mount path, the Secret's token is
resolved into the env, LOADGEN_LISTEN / LOADGEN_COORDINATOR point at 127.0.0.1, and
JOB_COMPLETION_INDEX is set as the Job controller sets it. The container's command is used
as printed: only `loadgen` becomes this interpreter's `-m loadgen` and the mount path the
folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Pods:
    docs: dict[str, dict[str, Any]]  # by kind
    folder: Path  # the ConfigMap, mounted
    port: int

    @classmethod
    def from_yaml(cls, text: str, folder: Path, port: int) -> Pods:
        docs = {d["kind"]: d for d in yaml.safe_load_all(text)}
        for name, body in docs["ConfigMap"]["data"].items():
            (folder / name).write_text(body)
        return cls(docs, folder, port)

    @property
    def container(self) -> dict[str, Any]:
        return self.docs["Job"]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]

    def argv(self) -> list[str]:
        """The container's command after `loadgen`, with the mount path replaced."""
        mount = self.container["volumeMounts"][0]["mountPath"]
        cmd = [c.replace(mount, str(self.folder)) for c in self.container["command"]]
        assert cmd[0] == "loadgen", cmd
        return cmd[1:]

    def env(self, index: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), **(extra or {})}
        token = self.docs["Secret"]["stringData"]["token"]
        for e in self.container["env"]:
            if "valueFrom" in e:
                assert e["valueFrom"]["secretKeyRef"]["key"] == "token"
                env[e["name"]] = token
            else:
                env[e["name"]] = e["value"]
        # the Service's DNS name and 0.0.0.0 become loopback: tests never listen elsewhere
        env["LOADGEN_LISTEN"] = f"127.0.0.1:{self.port}"
        env["LOADGEN_COORDINATOR"] = f"127.0.0.1:{self.port}"
        return env

    def start(self, index: int, log: Path, extra: dict[str, str] | None = None,
              ) -> subprocess.Popen[bytes]:
        with log.open("wb") as err:
            return subprocess.Popen([sys.executable, "-m", "loadgen", *self.argv()],
                                    env=self.env(index, extra), stdout=subprocess.DEVNULL,
                                    stderr=err)
