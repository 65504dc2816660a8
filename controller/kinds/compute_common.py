"""Helpers shared by the compute kinds: the retain policy tag, policy JSON, scaling ids.

Tag helpers (and the ownership cache for APIs that list without tags) are in
tags_common, shared with every other kind.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from controller.engine.kind import KindContext
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, STACK_TAG

RETAIN_TAG = "stackop:retain-on-delete"
RETAIN_NOTE = (
    "{what} kept: losing {data} is data loss; set serviceDefaults.retainLogsOnDelete: false "
    "to delete"
)
OWNERSHIP_KEYS = frozenset({OWNER_TAG, STACK_TAG, LOGICAL_ID_TAG})


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return sorted(value, key=str) if isinstance(value, list) else [value]


def normalise_policy(doc: Any) -> Any:
    """A policy document in a canonical form: parsed, lists sorted, strings as lists.

    IAM keeps documents as sent, but "Action": "x" and "Action": ["x"] mean the same, as
    does statement order; both are folded so a converged role plans clean.
    """
    if isinstance(doc, str):
        try:
            doc = json.loads(unquote(doc) if doc.startswith("%7B") else doc)
        except ValueError:
            return doc
    if not isinstance(doc, Mapping):
        return doc
    statements = doc.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    norm = []
    for st in statements:
        item = dict(st)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in item:
                item[key] = _as_list(item[key])
        principal = item.get("Principal")
        if isinstance(principal, Mapping):
            item["Principal"] = {k: _as_list(v) for k, v in principal.items()}
        norm.append(item)
    return {
        "Version": doc.get("Version", "2008-10-17"),
        "Statement": sorted(norm, key=lambda s: json.dumps(s, sort_keys=True)),
    }


def policy_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


SCALING_NAMESPACE = "ecs"
SCALING_DIMENSION = "ecs:service:DesiredCount"


def target_key(resource_id: str) -> str:
    """A value naming a scalable target itself, distinct from the service's resource id
    (so deletes order policy -> target -> service)."""
    return f"{resource_id}#{SCALING_DIMENSION}"


def stack_service(ctx: KindContext, resource_id: str, clusters: Collection[str] = ()) -> str | None:
    """The service name if `resource_id` is `service/<stack cluster>/<service>`; the stack's
    cluster is named after the stack unless the spec names it (`clusters`, e.g. adopted)."""
    parts = resource_id.split("/")
    if (
        len(parts) == 3
        and parts[0] == "service"
        and (parts[1] == ctx.stack or parts[1] in clusters)
    ):
        return parts[2]
    return None


def desired_clusters(resource_ids: Iterable[Any]) -> set[str]:
    """Cluster names in desired `service/<cluster>/<service>[#dimension]` values."""
    out: set[str] = set()
    for value in resource_ids:
        parts = str(value).split("#", 1)[0].split("/") if isinstance(value, str) else []
        if len(parts) == 3 and parts[0] == "service":
            out.add(parts[1])
    return out
