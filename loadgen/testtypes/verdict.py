"""A test type's answer to its question, for the text summary and the JSON `loadgen` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    kind: str  # "spike", "stress", ...
    scenario: str
    ok: bool | None  # None: the run could not answer the question (too short...)
    headline: str  # one line: the answer ("recovered in 3.0 s", "breaks at 400/s")
    figures: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ok": self.ok, "headline": self.headline,
                "figures": self.figures, "details": self.details}

    def render(self) -> str:
        mark = "?" if self.ok is None else "✓" if self.ok else "✗"
        lines = [f"    {mark} {self.scenario} ({self.kind}): {self.headline}"]
        lines += [f"      {d}" for d in self.details]
        return "\n".join(lines)


def render_verdicts(verdicts: list[Verdict]) -> str:
    """The `█ VERDICTS` section printed after k6's summary (beyond k6)."""
    if not verdicts:
        return ""
    body = "\n\n".join(v.render() for v in verdicts)
    return f"  █ VERDICTS \n\n{body}\n\n"
