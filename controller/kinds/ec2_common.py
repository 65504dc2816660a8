"""Helpers shared by the EC2-based kinds: ownership filters, paginated reads, tags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code, is_not_found
from controller.engine.kind import KindContext, Resolved
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


OWNERSHIP_KEYS = frozenset({OWNER_TAG, STACK_TAG, LOGICAL_ID_TAG})


def desired_tags(
    ctx: KindContext, kind: str, logical_id: str, params: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Tags to write: the context's defaults, then the desired `tags` param; ownership wins."""
    base = ctx.tags(kind, logical_id)
    wanted = dict((params or {}).get("tags") or {})
    return {**base, **wanted, **{k: base[k] for k in OWNERSHIP_KEYS}}


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


def managed_tags(
    ctx: KindContext, kind: str, logical_id: str, params: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The tags we own on a resource, except the ownership tags that find it."""
    tags = desired_tags(ctx, kind, logical_id, params)
    return {k: v for k, v in tags.items() if k not in OWNERSHIP_KEYS}


def live_managed_tags(
    ctx: KindContext,
    kind: str,
    logical_id: str,
    live: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Live values of the tag keys we manage (None where missing): extra tags are not ours."""
    return {k: live.get(k) for k in managed_tags(ctx, kind, logical_id, params)}


def params_by_id(desired: Sequence[Resolved]) -> dict[str, Mapping[str, Any]]:
    return {d.logical_id: d.params for d in desired}


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


async def ignore_not_found(coro: Any) -> None:
    """Await an idempotent delete: a resource that is already gone is success."""
    try:
        await coro
    except Exception as exc:
        if not is_not_found(exc):
            raise


async def ignore_codes(coro: Any, *codes: str) -> None:
    """Like `ignore_not_found`, also treating the given error codes as success."""
    try:
        await coro
    except Exception as exc:
        if not (is_not_found(exc) or error_code(exc) in codes):
            raise
