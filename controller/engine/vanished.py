"""Which absent resources existed before: evidence that a resource vanished.

A kind may refuse to recreate a resource that held data (an empty database where one
was); it needs to know whether the resource is new or gone. Two kinds of evidence:
keys the caller saw observed before (e.g. the operator's memory), and live dependants
that still carry a value where their desired params reference the absent resource (a
dependant is only ever written after what it references exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from controller.engine.resource import DesiredResource, Observed, Ref


def _scalar_refs(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Ref]]:
    """(path, ref) for every Ref reached through mappings only: a list position says
    nothing reliable (live lists may be ordered differently)."""
    if isinstance(value, Ref):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _scalar_refs(item, (*path, str(key)))


def _live_value(fields: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = fields
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def existed_before(
    desired: Iterable[DesiredResource],
    observed: Mapping[str, Observed],
    known: Iterable[str] = (),
) -> set[str]:
    """Keys of desired resources that are absent now but evidently existed."""
    wanted = list(desired)
    absent = {d.key for d in wanted if d.key not in observed}
    evidence = absent & set(known)
    for d in wanted:
        live = observed.get(d.key)
        if live is None:
            continue
        for path, ref in _scalar_refs(d.params):
            if ref.key in absent and ref.key not in evidence:
                value = _live_value(live.fields, path)
                if isinstance(value, str | int) and value != "":
                    evidence.add(ref.key)
    return evidence
