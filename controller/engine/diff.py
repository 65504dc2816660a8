"""Field-level comparison of desired params against observed fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from controller.engine.kind import Delta, FieldChange, Kind
from controller.engine.resource import UNKNOWN, contains_unknown


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _normalised(kind: Kind, path: str, value: Any) -> Any:
    value = kind.normalise(path, value)
    if path in kind.unordered_fields and isinstance(value, list):
        return sorted(value, key=_canonical)
    return value


def _compare_items(
    kind: Kind, path: str, want: Mapping[str, Any], have: Mapping[str, Any], out: list[FieldChange]
) -> None:
    for key in sorted(set(want) | set(have)):
        sub = f"{path}.{key}"
        if sub in kind.ignore_fields:
            continue
        _compare(kind, sub, want.get(key), have.get(key), out)


def _compare(kind: Kind, path: str, want: Any, have: Any, out: list[FieldChange]) -> None:
    if contains_unknown(want):
        # Never handed to a kind's normalise hook (kinds may serialise what they normalise):
        # a value only known after apply is a change wherever it sits.
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            _compare_items(kind, path, want, have, out)
        else:
            out.append(FieldChange(path, have, UNKNOWN))
        return
    want = _normalised(kind, path, want)
    have = _normalised(kind, path, have)
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        _compare_items(kind, path, want, have, out)
        return
    if _canonical(want) != _canonical(have):
        out.append(FieldChange(path, have, want))


def diff(kind: Kind, params: Mapping[str, Any], fields: Mapping[str, Any]) -> Delta:
    """Changes needed to make `fields` (live) match `params` (desired).

    Only fields the desired side names are compared: AWS attributes we do not manage
    are never drift.
    """
    changes: list[FieldChange] = []
    for key in sorted(params):
        if key in kind.ignore_fields:
            continue
        _compare(kind, key, params[key], fields.get(key), changes)
    return Delta(tuple(changes))


def forces_replacement(kind: Kind, delta: Delta) -> list[str]:
    return [c.path for c in delta.changes if c.path.split(".")[0] in kind.replace_fields]
