"""The report page read back without a browser: tables by id (cell text, or the exact
number a cell carries in data-v), the ids present, and every script block."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class Page(HTMLParser):
    """Tables by id (cell text and data-v), the ids present, and every script block."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tables: dict[str, list[list[Any]]] = {}
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._table: str | None = None
        self._cell: list[Any] | None = None
        self._script: dict[str, str | None] | None = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "table":
            self._table = str(a.get("id"))
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._in_body = True
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = [a.get("data-v"), ""]
        elif tag == "script":
            self._script = a

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            v, text = self._cell
            self.tables[self._table][-1].append(float(v) if v is not None else text)
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1] += data
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None

    def rows(self, table: str) -> dict[str, dict[str, Any]]:
        """A table's body rows keyed by their first cell, each as {header: value}."""
        head, *rows = self.tables[table]
        return {str(r[0]): dict(zip(head, r, strict=True)) for r in rows}
