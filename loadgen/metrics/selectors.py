"""Sub-metric selectors: `http_req_duration{status:200,method:GET}` -> parent, suffix, tags.

k6-compat.md §0.4. k6 parses a threshold key twice and both passes matter for compatibility:
first a strict validation (`metrics.ParseMetricName`, which rejects `{}` and parts without a
value such as `{tag:}` — verified with the real binary, exit 104), then the lenient tag parsing
of `Metric.AddSubmetric` (keys/values trimmed of whitespace and of any surrounding `"`/`'`).
The sub-metric's *name* keeps the selector text as typed (outer whitespace trimmed), so
`{ status : "404" }` is displayed and exported as `{status : "404"}`; two spellings with the
same tag set are the same sub-metric (compare `tags`, not names).
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgen.metrics.model import TagSet


class SelectorError(ValueError):
    """A threshold key that k6 would reject; the message is k6's wording."""


@dataclass(frozen=True)
class Selector:
    """One parsed threshold key."""

    key: str  # exactly as typed
    parent: str  # the metric name before `{`
    suffix: str | None  # selector text between the braces, outer whitespace trimmed
    tags: TagSet | None  # sorted (key, value) pairs; None for a plain metric

    @property
    def name(self) -> str:
        """The k6 name of the metric or sub-metric (`parent{suffix}`)."""
        if self.suffix is None:
            return self.parent
        return f"{self.parent}{{{self.suffix}}}"

    @property
    def is_submetric(self) -> bool:
        return self.suffix is not None


def go_quote(s: str) -> str:
    """Go's `%q` for the printable strings found in threshold keys and expressions."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _validate(key: str) -> None:
    """k6's `ParseMetricName`: the checks that make a key invalid (exit 104)."""
    prefix = "unable to validate threshold expressions; reason: parsing metric name failed, "
    open_pos = key.find("{")
    close_pos = key.rfind("}")
    if open_pos == -1 and close_pos == -1:
        return
    if (open_pos == -1) != (close_pos == -1):
        raise SelectorError(
            f"{prefix}metric {go_quote(key)} has unmatched opening/close curly brace"
        )
    if close_pos < open_pos:
        raise SelectorError(
            f"{prefix}metric {go_quote(key)} closing curly brace appears before opening one"
        )
    if close_pos != len(key) - 1:
        raise SelectorError(
            f"{prefix}metric {go_quote(key)} lacks a closing curly brace in its last position"
        )
    for part in key[open_pos + 1 : close_pos].split(","):
        _, sep, value = part.partition(":")
        if not sep or value == "":
            raise SelectorError(f"{prefix}metric {go_quote(part)} tag expression is malformed")


def _strip_quotes(s: str) -> str:
    return s.strip().strip("\"'")


def parse_tags(selector_text: str) -> TagSet:
    """The tag set of a selector body (`status:200, method:"GET"`), k6's AddSubmetric rules."""
    tags: dict[str, str] = {}
    for part in selector_text.split(","):
        if part == "":
            continue
        k, _, v = part.partition(":")
        tags[_strip_quotes(k)] = _strip_quotes(v)
    return tuple(sorted(tags.items()))


def parse_selector(key: str) -> Selector:
    """Parse a threshold key; raises SelectorError with k6's message if k6 would reject it."""
    _validate(key)
    parent, brace, rest = key.partition("{")
    if not brace:
        return Selector(key=key, parent=key, suffix=None, tags=None)
    suffix = rest[:-1].strip()
    return Selector(key=key, parent=parent, suffix=suffix, tags=parse_tags(suffix))


def split_name(name: str) -> tuple[str, str]:
    """`parent{sel}` -> (`parent`, `{sel}`); a plain name -> (name, "")."""
    i = name.find("{")
    if i < 0:
        return name, ""
    return name[:i], name[i:]
