"""Application load balancer (internet-facing by default) with its idle timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.elbv2_common import (
    TREE_ACTIONS,
    owned_from,
    owned_items,
    read_load_balancers,
    stack_tree,
    sync_elb_tags,
)
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
)

IDLE_TIMEOUT = "idle_timeout.timeout_seconds"
DEFAULT_IDLE_TIMEOUT = 60


class LoadBalancer(Kind):
    name = "load_balancer"
    service = "elasticloadbalancing"
    iam_actions = (
        *TREE_ACTIONS,
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DeleteLoadBalancer",
    )
    replace_fields = frozenset({"name", "scheme"})
    unordered_fields = frozenset({"subnet_ids", "security_group_ids"})

    async def _owned(self, ctx: KindContext) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        return await owned_items(ctx, await read_load_balancers(ctx), "LoadBalancerArn")

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        tree = await stack_tree(ctx)
        owned = owned_from(ctx, tree.load_balancers, "LoadBalancerArn", tree.tags)
        results = await asyncio.gather(
            *(
                self._observed(ctx, lid, lb, tags, params.get(lid))
                for lid, (lb, tags) in owned.items()
            )
        )
        return dict(zip(owned, results, strict=True))

    async def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        lb: dict[str, Any],
        tags: dict[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        elb = await ctx.client("elbv2")
        arn = lb["LoadBalancerArn"]
        attrs = await elb.describe_load_balancer_attributes(LoadBalancerArn=arn)
        values = {a["Key"]: a["Value"] for a in attrs.get("Attributes", [])}
        state = lb.get("State", {}).get("Code", "")
        return Observed(
            logical_id=logical_id,
            physical_id=arn,
            fields={
                "name": lb["LoadBalancerName"],
                # AWS defaults the scheme to internet-facing; moto leaves it unset when the
                # create call did not name it (Terraform's does not)
                "scheme": lb.get("Scheme") or "internet-facing",
                "subnet_ids": [az["SubnetId"] for az in lb.get("AvailabilityZones", [])],
                "security_group_ids": list(lb.get("SecurityGroups", [])),
                "idle_timeout": int(values.get(IDLE_TIMEOUT, DEFAULT_IDLE_TIMEOUT)),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={
                "arn": arn,
                "id": arn,
                "dns_name": lb.get("DNSName", ""),
                "zone_id": lb.get("CanonicalHostedZoneId", ""),
                "name": lb["LoadBalancerName"],
            },
            # Listeners and target groups may attach while AWS is still provisioning.
            ready=state in ("active", "provisioning", ""),
            status=state,
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # moto makes a second load balancer with the same name (AWS returns the first):
        # always look ours up first.
        existing = (await self._owned(ctx)).get(desired.logical_id)
        elb = await ctx.client("elbv2")
        p = desired.params
        if existing is not None:
            lb, tags = existing
        else:
            lb = (
                await elb.create_load_balancer(
                    Name=p["name"],
                    Subnets=list(p["subnet_ids"]),
                    SecurityGroups=list(p["security_group_ids"]),
                    Scheme=p["scheme"],
                    Type="application",
                    IpAddressType="ipv4",
                    Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
                )
            )["LoadBalancers"][0]
            tags = desired_tags(ctx, self.name, desired.logical_id, desired.params)
        await self._set_idle_timeout(elb, lb["LoadBalancerArn"], p["idle_timeout"])
        return await self._observed(ctx, desired.logical_id, lb, tags)

    @staticmethod
    async def _set_idle_timeout(elb: Any, arn: str, seconds: int) -> None:
        await elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": IDLE_TIMEOUT, "Value": str(seconds)}]
        )

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        elb = await ctx.client("elbv2")
        arn = observed.physical_id
        p = desired.params
        if delta.changed("subnet_ids"):
            await elb.set_subnets(LoadBalancerArn=arn, Subnets=list(p["subnet_ids"]))
        if delta.changed("security_group_ids"):
            await elb.set_security_groups(
                LoadBalancerArn=arn, SecurityGroups=list(p["security_group_ids"])
            )
        if delta.changed("idle_timeout"):
            await self._set_idle_timeout(elb, arn, p["idle_timeout"])
        if delta.changed("tags"):
            await sync_elb_tags(
                ctx, arn, desired_tags(ctx, self.name, desired.logical_id, desired.params)
            )
        (lb,) = (await elb.describe_load_balancers(LoadBalancerArns=[arn]))["LoadBalancers"]
        return await self._observed(
            ctx,
            desired.logical_id,
            lb,
            desired_tags(ctx, self.name, desired.logical_id, desired.params),
            desired.params,
        )

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        elb = await ctx.client("elbv2")
        await ignore_not_found(elb.delete_load_balancer(LoadBalancerArn=observed.physical_id))
