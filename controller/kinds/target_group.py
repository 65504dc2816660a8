"""Target group per routed service: ip targets, health check, deregistration delay.

Reading target group attributes costs one call per group, which would make the
observe cycle grow with the number of services. The deregistration delay we last
applied is therefore kept in a tag and compared from there (set on create and on
every change of the spec); an out-of-band change of that one attribute is not seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.elbv2_common import (
    TREE_ACTIONS,
    owned_from,
    owned_items,
    read_target_groups,
    stack_tree,
)
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
)

DEREGISTRATION = "deregistration_delay.timeout_seconds"
DEREGISTRATION_TAG = "stackop:deregistration-delay"


def _health_check(tg: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "path": tg.get("HealthCheckPath", "/"),
        "protocol": tg.get("HealthCheckProtocol", "HTTP"),
        "interval": tg.get("HealthCheckIntervalSeconds"),
        "timeout": tg.get("HealthCheckTimeoutSeconds"),
        "healthy_threshold": tg.get("HealthyThresholdCount"),
        "unhealthy_threshold": tg.get("UnhealthyThresholdCount"),
        "matcher": tg.get("Matcher", {}).get("HttpCode", "200"),
    }


def _health_check_args(hc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": hc["protocol"],
        "HealthCheckPath": hc["path"],
        "HealthCheckIntervalSeconds": hc["interval"],
        "HealthCheckTimeoutSeconds": hc["timeout"],
        "HealthyThresholdCount": hc["healthy_threshold"],
        "UnhealthyThresholdCount": hc["unhealthy_threshold"],
        "Matcher": {"HttpCode": hc["matcher"]},
    }


class TargetGroup(Kind):
    name = "target_group"
    service = "elasticloadbalancing"
    iam_actions = (
        *TREE_ACTIONS,
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DeleteTargetGroup",
    )
    replace_fields = frozenset({"name", "port", "protocol", "target_type", "vpc_id"})

    async def _owned(self, ctx: KindContext) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        return await owned_items(ctx, await read_target_groups(ctx), "TargetGroupArn")

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        tree = await stack_tree(ctx)
        owned = owned_from(ctx, tree.target_groups, "TargetGroupArn", tree.tags)
        return {
            lid: self._observed(ctx, lid, tg, tags, params.get(lid))
            for lid, (tg, tags) in owned.items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        tg: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        arn = tg["TargetGroupArn"]
        delay = tags.get(DEREGISTRATION_TAG)
        return Observed(
            logical_id=logical_id,
            physical_id=arn,
            fields={
                "name": tg["TargetGroupName"],
                "port": tg.get("Port"),
                "protocol": tg.get("Protocol"),
                "target_type": tg.get("TargetType"),
                "vpc_id": tg.get("VpcId"),
                "health_check": _health_check(tg),
                "deregistration_delay": int(delay) if delay and delay.isdigit() else None,
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": arn, "id": arn, "name": tg["TargetGroupName"]},
        )

    def _tags(self, ctx: KindContext, desired: Resolved) -> dict[str, str]:
        delay = {DEREGISTRATION_TAG: str(desired.params["deregistration_delay"])}
        return desired_tags(ctx, self.name, desired.logical_id, desired.params, delay)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # A second CreateTargetGroup with the same name fails in moto: look up first.
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, *existing, desired.params)
        elb = await ctx.client("elbv2")
        p = desired.params
        tags = self._tags(ctx, desired)
        (tg,) = (
            await elb.create_target_group(
                Name=p["name"],
                Protocol=p["protocol"],
                Port=p["port"],
                VpcId=p["vpc_id"],
                TargetType=p["target_type"],
                Tags=tag_list(tags),
                **_health_check_args(p["health_check"]),
            )
        )["TargetGroups"]
        await self._set_delay(elb, tg["TargetGroupArn"], p["deregistration_delay"])
        return self._observed(ctx, desired.logical_id, tg, tags, p)

    @staticmethod
    async def _set_delay(elb: Any, arn: str, seconds: int) -> None:
        await elb.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": DEREGISTRATION, "Value": str(seconds)}]
        )

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        elb = await ctx.client("elbv2")
        arn = observed.physical_id
        p = desired.params
        tg: Mapping[str, Any] | None = None
        if delta.changed("health_check"):
            (tg,) = (
                await elb.modify_target_group(
                    TargetGroupArn=arn, **_health_check_args(p["health_check"])
                )
            )["TargetGroups"]
        if delta.changed("deregistration_delay"):
            await self._set_delay(elb, arn, p["deregistration_delay"])
        tags = self._tags(ctx, desired)
        if delta.changed("tags") or delta.changed("deregistration_delay"):
            await elb.add_tags(ResourceArns=[arn], Tags=tag_list(tags))
        if tg is None:
            (tg,) = (await elb.describe_target_groups(TargetGroupArns=[arn]))["TargetGroups"]
        return self._observed(ctx, desired.logical_id, tg, tags, p)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        elb = await ctx.client("elbv2")
        await ignore_not_found(elb.delete_target_group(TargetGroupArn=observed.physical_id))
