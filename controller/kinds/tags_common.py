"""Tag helpers for the data and edge kinds (RDS, ELB, S3, CloudFront).

The tags we write are the context's (user tags, Name, ownership) plus the desired
`tags` param; ownership tags always win. Only the keys we write are compared, so
tags others add are never drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine.kind import KindContext, Resolved
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, STACK_TAG

OWNERSHIP_KEYS = frozenset({OWNER_TAG, STACK_TAG, LOGICAL_ID_TAG})


def tag_map(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or ()}


def desired_tags(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    params: Mapping[str, Any] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    base = ctx.tags(kind, logical_id)
    wanted = dict((params or {}).get("tags") or {})
    return {**base, **wanted, **(extra or {}), **{k: base[k] for k in OWNERSHIP_KEYS}}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def live_tags(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    live: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Live values of the tag keys the `tags` field manages (None where missing)."""
    keys = [k for k in desired_tags(ctx, kind, logical_id, params) if k not in OWNERSHIP_KEYS]
    return {k: live.get(k) for k in keys}


def params_by_id(desired: Sequence[Resolved]) -> dict[str, Mapping[str, Any]]:
    return {d.logical_id: d.params for d in desired}


async def ignore_not_found(coro: Any) -> Any:
    """Await an idempotent call: a resource that is already gone is success."""
    try:
        return await coro
    except Exception as exc:
        if not is_not_found(exc):
            raise
        return None
