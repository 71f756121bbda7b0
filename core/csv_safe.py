"""Writing CSV for spreadsheets: streamed row by row, and safe against formula injection."""

from __future__ import annotations


class Echo:
    """A file-like object whose write() returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): names come from the public."""
    return "'" + value if value.startswith(_FORMULA_START) else value
