"""`spec.names` and `spec.overrides`: an adopted stack's names and settings where they
differ from the ones the spec derives.

Keys are `kind/logical-id`, or a glob over logical ids (`scaling_policy/*`). Names may use
`{id}` for the logical id: `{"db_instance/main": "cop-postgres",
"scaling_policy/*": "cop-{id}-target"}`. Overrides replace rendered settings by name:
`{"security_group/alb": {"description": "ALB: HTTP/HTTPS from anywhere"}}`. Both apply to
the rendered resources, so render and the derived names stay as they are. A value
`${kind/logical-id.output}` is a reference, as in the plan: `"${security_group/alb.id}"`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from controller.adopt.lookup import NAME_PARAMS
from controller.engine import DesiredResource, Ref
from controller.usererrors import UserError

REF = re.compile(r"^\$\{([a-z_]+)/([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


class NamesError(UserError, ValueError):
    """A `spec.names` or `spec.overrides` entry that names nothing (the user's to fix)."""


def _matches(key: str, pattern: str) -> bool:
    return key == pattern or ("*" in pattern and fnmatchcase(key, pattern))


def _with_refs(value: Any) -> Any:
    if isinstance(value, str):
        m = REF.match(value)
        return Ref(m[1], m[2], m[3]) if m else value
    if isinstance(value, Mapping):
        return {k: _with_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_refs(v) for v in value]
    return value


def apply_overrides(
    desired: Sequence[DesiredResource], overrides: Mapping[str, Mapping[str, Any]]
) -> list[DesiredResource]:
    if not overrides:
        return list(desired)
    used: set[str] = set()
    out: list[DesiredResource] = []
    for d in desired:
        settings: dict[str, Any] = {}
        for pattern, values in overrides.items():
            if _matches(d.key, pattern):
                used.add(pattern)
                settings.update(_with_refs(dict(values)))
        unknown = sorted(set(settings) - set(d.params))
        if unknown:
            raise NamesError(f"spec.overrides: {d.key} has no setting {', '.join(unknown)}")
        out.append(replace(d, params={**d.params, **settings}) if settings else d)
    unused = sorted(set(overrides) - used)
    if unused:
        raise NamesError(f"spec.overrides: {', '.join(unused)} names no resource of this spec")
    return out


def _name_for(d: DesiredResource, names: Mapping[str, str]) -> str | None:
    if d.key in names:
        return names[d.key].replace("{id}", d.logical_id)
    for pattern, value in names.items():
        if "*" in pattern and fnmatchcase(d.key, pattern):
            return value.replace("{id}", d.logical_id)
    return None


def apply_names(
    desired: Sequence[DesiredResource], names: Mapping[str, str]
) -> list[DesiredResource]:
    if not names:
        return list(desired)
    used: set[str] = set()
    renamed: dict[str, tuple[str, str]] = {}
    out: list[DesiredResource] = []
    for d in desired:
        name = _name_for(d, names)
        if name is None:
            out.append(d)
            continue
        param = NAME_PARAMS.get(d.kind)
        if param is None or not isinstance(d.params.get(param), str):
            raise NamesError(f"spec.names: {d.key} has no physical name to set")
        used |= {k for k in names if _matches(d.key, k)}
        renamed[d.key] = (str(d.params[param]), name)
        out.append(replace(d, params={**d.params, param: name}))
    unused = sorted(set(names) - used)
    if unused:
        raise NamesError(f"spec.names: {', '.join(unused)} names no resource of this spec")
    return _follow_cluster(out, renamed)


def _follow_cluster(
    desired: list[DesiredResource], renamed: Mapping[str, tuple[str, str]]
) -> list[DesiredResource]:
    """Alarms name their cluster as a plain dimension value, not a reference."""
    if "ecs_cluster/main" not in renamed:
        return desired
    old, new = renamed["ecs_cluster/main"]
    out: list[DesiredResource] = []
    for d in desired:
        dims = d.params.get("dimensions")
        if (
            d.kind == "metric_alarm"
            and isinstance(dims, Mapping)
            and dims.get("ClusterName") == old
        ):
            d = replace(d, params={**d.params, "dimensions": {**dims, "ClusterName": new}})
        out.append(d)
    return out
