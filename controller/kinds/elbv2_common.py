"""Helpers shared by the load-balancing kinds: tags read in batches, owned-item lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.engine.kind import KindContext
from controller.kinds.tags_common import tag_list, tag_map

TAG_BATCH = 20
"""DescribeTags takes at most 20 ARNs per call."""


def name_prefix(stack: str) -> str:
    """A prefix every physical name of the stack starts with, even when hash-shortened."""
    return stack[:20]


async def tags_by_arn(ctx: KindContext, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Tags of every ARN, one DescribeTags call per batch of 20."""
    if not arns:
        return {}
    elb = await ctx.client("elbv2")
    batches = [arns[i : i + TAG_BATCH] for i in range(0, len(arns), TAG_BATCH)]
    pages = await asyncio.gather(*(elb.describe_tags(ResourceArns=list(b)) for b in batches))
    return {
        d["ResourceArn"]: tag_map(d.get("Tags")) for page in pages for d in page["TagDescriptions"]
    }


async def owned_items(
    ctx: KindContext, items: Iterable[Mapping[str, Any]], arn_key: str
) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """{logical id: (item, tags)} for the items the stack owns; first one wins on duplicates."""
    listed = list(items)
    tags = await tags_by_arn(ctx, [i[arn_key] for i in listed])
    found: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for item in sorted(listed, key=lambda i: str(i.get("CreatedTime", ""))):
        item_tags = tags.get(item[arn_key], {})
        logical_id = ctx.owns(item_tags)
        if logical_id is not None and logical_id not in found:
            found[logical_id] = (dict(item), item_tags)
    return found


async def sync_elb_tags(ctx: KindContext, arn: str, tags: Mapping[str, str]) -> None:
    elb = await ctx.client("elbv2")
    await elb.add_tags(ResourceArns=[arn], Tags=tag_list(tags))


def parent_arns(desired: Sequence[Any], key: str) -> list[str]:
    """The distinct, already known parent ARNs (load balancer, listener) desired items name."""
    return sorted({str(d.params[key]) for d in desired if isinstance(d.params.get(key), str)})


def forward_action(target_group_arn: str | None) -> dict[str, Any]:
    """Our normalised view of a listener or rule action."""
    if target_group_arn:
        return {"type": "forward", "target_group_arn": target_group_arn}
    return {"type": "fixed-response", "status_code": "404"}


def action_to_aws(action: Mapping[str, Any]) -> dict[str, Any]:
    kind = action["type"]
    if kind == "forward":
        return {"Type": "forward", "TargetGroupArn": action["target_group_arn"]}
    if kind == "redirect-https":
        return {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": str(action.get("status_code", "404")),
            "ContentType": "text/plain",
        },
    }


def action_from_aws(actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first action of a listener or rule in our normalised form."""
    if not actions:
        return {}
    first = sorted(actions, key=lambda a: int(a.get("Order", 1)))[0]
    kind = first.get("Type")
    if kind == "forward":
        arn = first.get("TargetGroupArn")
        if not arn:
            groups = first.get("ForwardConfig", {}).get("TargetGroups", [])
            arn = groups[0]["TargetGroupArn"] if len(groups) == 1 else None
        return {"type": "forward", "target_group_arn": arn}
    if kind == "redirect":
        cfg = first.get("RedirectConfig", {})
        if cfg.get("Protocol") == "HTTPS" and str(cfg.get("Port")) == "443":
            return {"type": "redirect-https"}
        return {"type": "redirect", "config": dict(cfg)}
    if kind == "fixed-response":
        cfg = first.get("FixedResponseConfig", {})
        return {"type": "fixed-response", "status_code": str(cfg.get("StatusCode", ""))}
    return {"type": str(kind)}


async def stack_load_balancers(ctx: KindContext) -> list[str]:
    """ARNs of the stack's load balancers (for listeners and rules with no desired parent)."""
    elb = await ctx.client("elbv2")
    prefix = name_prefix(ctx.stack)
    items: list[dict[str, Any]] = []
    async for page in elb.get_paginator("describe_load_balancers").paginate():
        items += [
            lb for lb in page.get("LoadBalancers", []) if lb["LoadBalancerName"].startswith(prefix)
        ]
    owned = await owned_items(ctx, items, "LoadBalancerArn")
    return sorted(lb["LoadBalancerArn"] for lb, _ in owned.values())


async def stack_listeners(ctx: KindContext) -> list[str]:
    """ARNs of every listener on the stack's load balancers."""
    elb = await ctx.client("elbv2")
    arns: list[str] = []
    for lb_arn in await stack_load_balancers(ctx):
        async for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb_arn):
            arns += [li["ListenerArn"] for li in page.get("Listeners", [])]
    return sorted(arns)
