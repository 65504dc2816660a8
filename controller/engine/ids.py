"""The names a cloud change event may use for a resource: its id and its ARN's tails.

One rule for "does this event name that resource", shared by the operator (which stack
an event belongs to, who changed a resource) and by kinds (which kept readings an event
makes stale).
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_ID = 4
"""Shorter strings (e.g. "tcp", "80") are never taken for identifiers."""


def arn_tails(arn: str) -> list[str]:
    """The parts an ARN's resource may be named by: the resource, its last `/` and `:` parts."""
    resource = arn.split(":", 5)[-1]
    return [resource, resource.rsplit("/", 1)[-1], resource.rsplit(":", 1)[-1]]


def aliases(physical_ids: Iterable[str]) -> set[str]:
    """Each id and its ARN tails, as events may name them."""
    out: set[str] = set()
    for pid in physical_ids:
        if len(pid) >= MIN_ID:
            out.add(pid)
            if pid.startswith("arn:"):
                out |= {p for p in arn_tails(pid) if len(p) >= MIN_ID}
    return out


def is_named(physical_id: str, names: frozenset[str] | set[str]) -> bool:
    """Whether `names` (an event's identifiers) name `physical_id`."""
    return not aliases([physical_id]).isdisjoint(names)
