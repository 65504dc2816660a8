"""Helpers shared by the EC2-based kinds: ownership filters, paginated reads, tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine.kind import KindContext
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, OWNER_VALUE, STACK_TAG


def owner_filters(ctx: KindContext) -> list[dict[str, Any]]:
    return [
        {"Name": f"tag:{STACK_TAG}", "Values": [ctx.stack]},
        {"Name": f"tag:{OWNER_TAG}", "Values": [OWNER_VALUE]},
    ]


def logical_id_filter(kind: str, logical_id: str) -> dict[str, Any]:
    return {"Name": f"tag:{LOGICAL_ID_TAG}", "Values": [f"{kind}/{logical_id}"]}


def tag_map(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or ()}


def tag_spec(ctx: KindContext, kind: str, logical_id: str, resource_type: str) -> list[Any]:
    return [{"ResourceType": resource_type, "Tags": ctx.tag_list(kind, logical_id)}]


def managed_tags(ctx: KindContext, kind: str, logical_id: str) -> dict[str, str]:
    """The tags we own on a resource, except the ownership tags that find it."""
    skip = {OWNER_TAG, STACK_TAG, LOGICAL_ID_TAG}
    return {k: v for k, v in ctx.tags(kind, logical_id).items() if k not in skip}


def live_managed_tags(
    ctx: KindContext, kind: str, logical_id: str, live: Mapping[str, str]
) -> dict[str, str | None]:
    """Live values of the tag keys we manage (None where missing): extra tags are not ours."""
    return {k: live.get(k) for k in managed_tags(ctx, kind, logical_id)}


async def describe_owned(
    ctx: KindContext,
    operation: str,
    result_key: str,
    extra_filters: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Every item the stack owns from a paginated EC2 describe call (one call per page)."""
    ec2 = await ctx.client("ec2")
    filters = owner_filters(ctx) + (extra_filters or [])
    items: list[dict[str, Any]] = []
    paginator = ec2.get_paginator(operation)
    async for page in paginator.paginate(Filters=filters, **kwargs):
        items.extend(page.get(result_key, []))
    return items


def by_logical_id(ctx: KindContext, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Owned items keyed by logical id; the first one wins if AWS holds duplicates."""
    found: dict[str, Any] = {}
    for item in items:
        logical_id = ctx.owns(tag_map(item.get("Tags")))
        if logical_id is not None and logical_id not in found:
            found[logical_id] = item
    return found


async def sync_tags(ctx: KindContext, resource_id: str, kind: str, logical_id: str) -> None:
    ec2 = await ctx.client("ec2")
    await ec2.create_tags(Resources=[resource_id], Tags=ctx.tag_list(kind, logical_id))


async def ignore_not_found(coro: Any) -> None:
    """Await an idempotent delete: a resource that is already gone is success."""
    try:
        await coro
    except Exception as exc:
        if not is_not_found(exc):
            raise
