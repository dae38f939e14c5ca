"""The group/check tree of a run, in first-seen order (k6-compat.md §1.2, §2.1, §2.4).

Two views of the same check results are needed: the tree (handleSummary `root_group`,
`--summary-export`), where a check is identified by its group and name, and the flat list
the text summary prints, where k6 merges checks by *name only* in global first-seen order.
Both are maintained as checks are recorded, so neither has to be reconstructed later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

SEP = "::"


def path_id(path: str) -> str:
    """k6's group/check id: lowercase hex MD5 of the path."""
    return hashlib.md5(path.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass
class Check:
    name: str
    path: str
    passes: int = 0
    fails: int = 0

    @property
    def id(self) -> str:
        return path_id(self.path)

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "id": self.id,
                "passes": self.passes, "fails": self.fails}


@dataclass
class Group:
    name: str
    path: str
    groups: dict[str, Group] = field(default_factory=dict)  # insertion = first-seen order
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return path_id(self.path)

    def child(self, name: str) -> Group:
        g = self.groups.get(name)
        if g is None:
            g = Group(name, self.path + SEP + name)
            self.groups[name] = g
        return g

    def to_data(self) -> dict[str, Any]:
        """handleSummary shape: groups and checks as ordered arrays."""
        return {
            "name": self.name,
            "path": self.path,
            "id": self.id,
            "groups": [g.to_data() for g in self.groups.values()],
            "checks": [c.to_data() for c in self.checks.values()],
        }


@dataclass
class FlatCheck:
    """A check as the text summary shows it: merged by name across groups."""

    name: str
    passes: int = 0
    fails: int = 0


class GroupTree:
    """Groups and checks of a run. Group paths are k6's: "" (root), "::a", "::a::b"."""

    def __init__(self) -> None:
        self.root = Group("", "")
        self._flat: dict[str, FlatCheck] = {}

    def group(self, path: str) -> Group:
        """The group at `path`, creating it and its ancestors (in that order) if new."""
        g = self.root
        if path:
            for name in path.split(SEP)[1:] if path.startswith(SEP) else path.split(SEP):
                g = g.child(name)
        return g

    def add_check(self, group_path: str, name: str, passes: int = 0, fails: int = 0) -> Check:
        """Count check results (one call per check() or per ingest batch)."""
        g = self.group(group_path)
        c = g.checks.get(name)
        if c is None:
            c = Check(name, g.path + SEP + name)
            g.checks[name] = c
        c.passes += passes
        c.fails += fails
        f = self._flat.get(name)
        if f is None:
            f = self._flat[name] = FlatCheck(name)
        f.passes += passes
        f.fails += fails
        return c

    def record(self, group_path: str, name: str, passed: bool) -> None:
        """One check() outcome."""
        self.add_check(group_path, name, int(passed), int(not passed))

    def flat(self, name: str) -> FlatCheck:
        """The by-name total of a check already added with add_check()."""
        return self._flat[name]

    def flat_checks(self) -> list[FlatCheck]:
        """Checks merged by name in global first-seen order (the text summary's list)."""
        return list(self._flat.values())

    def to_data(self) -> dict[str, Any]:
        return self.root.to_data()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> GroupTree:
        """Rebuild from a handleSummary `root_group` (arrays) or an export (name-keyed maps).

        The flat order is a depth-first walk (a group's checks before its sub-groups), which
        equals first-seen order for scripts that run their checks in code order.
        """
        tree = cls()

        def items(v: Any) -> list[Any]:
            return list(v.values()) if isinstance(v, dict) else list(v or [])

        def walk(node: dict[str, Any], group: Group) -> None:
            for c in items(node.get("checks")):
                tree.add_check(group.path, c["name"], int(c["passes"]), int(c["fails"]))
            for sub in items(node.get("groups")):
                walk(sub, group.child(sub["name"]))

        walk(data, tree.root)
        return tree
