"""The `--summary-json FILE` output: k6's handleSummary `data` object, written as JSON.

Tools written for `handleSummary(data)` (k6-compat.md §2.1) can read this file instead of
running JavaScript: same keys, same shapes, JavaScript number formatting, plus loadgen's
own top-level `loadgen` section when the caller supplied one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadgen.summary.jsjson import js_stringify


def render_handle_summary_json(data: Mapping[str, Any], indent: int = 2) -> str:
    """The file content (2-space indent, like `JSON.stringify(data, null, 2)`), newline-ended."""
    return js_stringify(data, indent=indent) + "\n"
