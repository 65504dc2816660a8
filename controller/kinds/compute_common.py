"""Helpers shared by the compute kinds: tag conversions, an ownership cache, policy JSON.

Several APIs (ECR, CloudWatch Logs, Cloud Map, CloudWatch alarms) list resources
without their tags, so ownership needs one tag read per resource. Ownership tags are
written in the create call and never change, so the tags read once per resource
(keyed by ARN and creation time) are cached for the life of the process: a
steady-state observe needs no tag reads at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
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


def kv_map(
    tags: Iterable[Mapping[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or ()}


def kv_list(
    tags: Mapping[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def write_tags(
    ctx: KindContext, kind: str, logical_id: str, params: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Tags to write: the context's, then the desired `tags` param; ownership wins."""
    base = ctx.tags(kind, logical_id)
    wanted = dict((params or {}).get("tags") or {})
    return {**base, **wanted, **{k: base[k] for k in OWNERSHIP_KEYS}}


def managed_tag_values(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    live: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Live values of the non-ownership tags we write (None where missing)."""
    keys = write_tags(ctx, kind, logical_id, params)
    return {k: live.get(k) for k in keys if k not in OWNERSHIP_KEYS}


def params_by_id(desired: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
    return {d.logical_id: d.params for d in desired}


class TagCache:
    """Tags per resource, read once per (ARN, creation time) and kept for the process."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str], dict[str, str]] = {}

    async def tags_of(
        self,
        items: Iterable[tuple[str, str]],
        fetch: Callable[[str], Awaitable[dict[str, str]]],
    ) -> dict[str, dict[str, str]]:
        """{arn: tags} for (arn, created) pairs; fetches only the ones not seen yet."""
        pairs = list(items)
        missing = [p for p in pairs if p not in self._tags]
        fetched = await asyncio.gather(*(fetch(arn) for arn, _ in missing))
        for pair, tags in zip(missing, fetched, strict=True):
            self._tags[pair] = tags
        return {arn: self._tags[(arn, created)] for arn, created in pairs}

    def put(self, arn: str, created: str, tags: Mapping[str, str]) -> None:
        self._tags[(arn, created)] = dict(tags)

    def merge(self, arn: str, created: str, tags: Mapping[str, str]) -> None:
        self._tags[(arn, created)] = {**self._tags.get((arn, created), {}), **tags}


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


def stack_service(ctx: KindContext, resource_id: str) -> str | None:
    """The service name if `resource_id` is `service/<stack cluster>/<service>`."""
    parts = resource_id.split("/")
    if len(parts) == 3 and parts[0] == "service" and parts[1] == ctx.stack:
        return parts[2]
    return None
