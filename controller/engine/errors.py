"""Typed outcomes of a kind's AWS work, so retry decisions are data, not booleans."""

from __future__ import annotations


class EngineError(Exception):
    """Base of the errors a kind may raise to steer the engine."""


class NotFound(EngineError):
    """The resource does not exist (any more)."""


class Retryable(EngineError):
    """Try again after `after` seconds: throttling, eventual consistency, a busy dependency."""

    def __init__(self, message: str, after: float = 5.0) -> None:
        super().__init__(message)
        self.after = after


class Terminal(EngineError):
    """Retrying will not help until the spec or the account changes."""
