"""Helpers shared by the load-balancing kinds: one read of the stack's load-balancing
tree per observe, tags read in batches, owned-item lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine import shared_read
from controller.engine.kind import KindContext
from controller.kinds.tags_common import tag_list, tag_map

TAG_BATCH = 20
"""DescribeTags takes at most 20 ARNs per call."""
PAGE = {"PageSize": 400}
"""The largest page the Describe* calls of load balancing allow."""
TREE_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
)
"""What `stack_tree` reads: whichever of the four kinds observes first runs it, so each
of them declares all of it."""


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


Owned = dict[str, tuple[dict[str, Any], dict[str, str]]]


def owned_from(
    ctx: KindContext,
    items: Iterable[Mapping[str, Any]],
    arn_key: str,
    tags: Mapping[str, Mapping[str, str]],
) -> Owned:
    """{logical id: (item, tags)} for the items the stack owns; first one wins on duplicates."""
    found: Owned = {}
    for item in sorted(items, key=lambda i: str(i.get("CreatedTime", ""))):
        item_tags = dict(tags.get(item[arn_key], {}))
        logical_id = ctx.owns(item_tags)
        if logical_id is not None and logical_id not in found:
            found[logical_id] = (dict(item), item_tags)
    return found


async def owned_items(ctx: KindContext, items: Iterable[Mapping[str, Any]], arn_key: str) -> Owned:
    """`owned_from` with the items' tags read here (for lookups outside an observe)."""
    listed = list(items)
    return owned_from(ctx, listed, arn_key, await tags_by_arn(ctx, [i[arn_key] for i in listed]))


@dataclass(frozen=True)
class ElbTree:
    """The stack's candidate load balancers (by name prefix), their listeners and rules,
    its candidate target groups, and the tags of all of them."""

    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    target_groups: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)


async def stack_tree(ctx: KindContext) -> ElbTree:
    """The load-balancing tree, read once per observe pass for the four kinds that share it.

    DescribeTags answers for any mix of load balancers, target groups, listeners and rules,
    so one packed batch of 20 ARNs serves all four kinds (the portal: one call instead of
    four). Ownership is still decided per item from its own tags.
    """
    return await shared_read(f"elbv2-tree/{ctx.stack}", lambda: _read_tree(ctx))


async def _pages(elb: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    try:
        async for page in elb.get_paginator(operation).paginate(PaginationConfig=PAGE, **kwargs):
            items += page.get(key, [])
    except Exception as exc:  # the parent is gone: so are its children
        if not is_not_found(exc):
            raise
    return items


async def read_load_balancers(ctx: KindContext) -> list[dict[str, Any]]:
    """The application load balancers named with the stack's prefix (ownership: tags)."""
    elb = await ctx.client("elbv2")
    prefix = name_prefix(ctx.stack)
    return [
        lb
        for lb in await _pages(elb, "describe_load_balancers", "LoadBalancers")
        if lb["LoadBalancerName"].startswith(prefix) and lb.get("Type") == "application"
    ]


async def read_target_groups(ctx: KindContext) -> list[dict[str, Any]]:
    """The target groups named with the stack's prefix (ownership: tags)."""
    elb = await ctx.client("elbv2")
    prefix = name_prefix(ctx.stack)
    return [
        tg
        for tg in await _pages(elb, "describe_target_groups", "TargetGroups")
        if tg["TargetGroupName"].startswith(prefix)
    ]


async def read_listeners(ctx: KindContext, lb_arns: Sequence[str]) -> list[dict[str, Any]]:
    """The listeners of these load balancers (none for one that is gone)."""
    elb = await ctx.client("elbv2")
    per_lb = await asyncio.gather(
        *(_pages(elb, "describe_listeners", "Listeners", LoadBalancerArn=arn) for arn in lb_arns)
    )
    return [li for group in per_lb for li in group]


async def read_rules(ctx: KindContext, listener_arns: Sequence[str]) -> list[dict[str, Any]]:
    """The non-default rules of these listeners (none for one that is gone)."""
    elb = await ctx.client("elbv2")
    per_listener = await asyncio.gather(
        *(_pages(elb, "describe_rules", "Rules", ListenerArn=arn) for arn in listener_arns)
    )
    return [r for group in per_listener for r in group if not r.get("IsDefault")]


async def _read_tree(ctx: KindContext) -> ElbTree:
    lbs, tgs = await asyncio.gather(read_load_balancers(ctx), read_target_groups(ctx))
    listeners = await read_listeners(ctx, [lb["LoadBalancerArn"] for lb in lbs])
    rules = await read_rules(ctx, [li["ListenerArn"] for li in listeners])
    arns = (
        [lb["LoadBalancerArn"] for lb in lbs]
        + [tg["TargetGroupArn"] for tg in tgs]
        + [li["ListenerArn"] for li in listeners]
        + [r["RuleArn"] for r in rules]
    )
    return ElbTree(lbs, tgs, listeners, rules, await tags_by_arn(ctx, arns))


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
