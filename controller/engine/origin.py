"""Which kind is acting right now, so lower layers can attribute their work (call metrics,
the least-privilege audit) without the engine knowing what they record."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ACTING_KIND: ContextVar[str | None] = ContextVar("stackop_acting_kind", default=None)


@contextmanager
def acting_as(kind: str) -> Iterator[None]:
    token = ACTING_KIND.set(kind)
    try:
        yield
    finally:
        ACTING_KIND.reset(token)
