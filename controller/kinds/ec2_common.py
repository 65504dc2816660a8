"""Helpers shared by the EC2-based kinds: ownership filters, paginated reads, tag writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.aws.errors import error_code, is_not_found
from controller.engine.kind import KindContext
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, OWNER_VALUE, STACK_TAG
from controller.kinds.tags_common import desired_tags, tag_map


def owner_filters(ctx: KindContext) -> list[dict[str, Any]]:
    return [
        {"Name": f"tag:{STACK_TAG}", "Values": [ctx.stack]},
        {"Name": f"tag:{OWNER_TAG}", "Values": [OWNER_VALUE]},
    ]


def logical_id_filter(kind: str, logical_id: str) -> dict[str, Any]:
    return {"Name": f"tag:{LOGICAL_ID_TAG}", "Values": [f"{kind}/{logical_id}"]}


def desired_tag_list(
    ctx: KindContext, kind: str, logical_id: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in desired_tags(ctx, kind, logical_id, params).items()]


def tag_spec(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    resource_type: str,
    params: Mapping[str, Any] | None = None,
) -> list[Any]:
    tags = desired_tag_list(ctx, kind, logical_id, params)
    return [{"ResourceType": resource_type, "Tags": tags}]


async def describe_owned(
    ctx: KindContext,
    operation: str,
    result_key: str,
    extra_filters: list[dict[str, Any]] | None = None,
    *,
    filter_param: str = "Filters",
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Every item the stack owns from an EC2 describe call (one call per page).

    `filter_param` names the filter argument: DescribeNatGateways calls it `Filter`.
    """
    ec2 = await ctx.client("ec2")
    kwargs[filter_param] = owner_filters(ctx) + (extra_filters or [])
    if not ec2.can_paginate(operation):  # e.g. DescribeAddresses returns everything at once
        return list((await getattr(ec2, operation)(**kwargs)).get(result_key, []))
    items: list[dict[str, Any]] = []
    async for page in ec2.get_paginator(operation).paginate(**kwargs):
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


def owned_item(
    ctx: KindContext, kind: str, logical_id: str, items: Iterable[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The item carrying exactly this resource's ownership tags, checked here rather than
    trusted to the server's filter (moto's DescribeNatGateways ignores tag filters)."""
    key = f"{kind}/{logical_id}"
    for item in items:
        tags = tag_map(item.get("Tags"))
        if ctx.owns(tags) == logical_id and tags.get(LOGICAL_ID_TAG) == key:
            return dict(item)
    return None


async def sync_tags(
    ctx: KindContext,
    resource_id: str,
    kind: str,
    logical_id: str,
    params: Mapping[str, Any] | None = None,
) -> None:
    ec2 = await ctx.client("ec2")
    tags = desired_tag_list(ctx, kind, logical_id, params)
    await ec2.create_tags(Resources=[resource_id], Tags=tags)


async def ignore_codes(coro: Any, *codes: str) -> None:
    """Like `ignore_not_found`, also treating the given error codes as success."""
    try:
        await coro
    except Exception as exc:
        if not (is_not_found(exc) or error_code(exc) in codes):
            raise
