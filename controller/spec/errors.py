"""Spec errors that point at a file, line, column and field path."""

from __future__ import annotations

from dataclasses import dataclass


def clip(text: str, limit: int = 60) -> str:
    """User text shown in a message, cut so a hostile value cannot flood the output."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec file. `line`/`column` are 1-based; 0 when unknown."""

    source: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(Exception):
    """A spec that must not be used. Carries every issue found, in file order."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.line, i.column, i.path))
        super().__init__("\n".join(str(i) for i in self.issues))
