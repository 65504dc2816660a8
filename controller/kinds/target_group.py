"""Target group per routed service: ip targets, health check, deregistration delay.

The deregistration delay is a target group attribute, and ELB has no batched read of
attributes: one DescribeTargetGroupAttributes per group. Observe reads it on a rotation
(engine.memory.Readings): a group never read, one a change event named (`forget`), one
whose reading is older than 10 minutes, and the oldest tenth of the rest each pass. A
reading that differs from the spec is read again before it counts, so a stale reading
never makes a change: at worst an out-of-band change is seen a few passes late (at
once with `--events`). The portal pays 1 call a pass instead of 9; a fresh process
starts from the operator's readings (`remember` / `recall`, via the status object).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.engine.memory import Readings
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


def _is_delay(value: Any) -> bool:
    return value is None or (type(value) is int and 0 <= value <= 3600)


def _delay_of(resp: Mapping[str, Any] | None) -> int | None:
    """The deregistration delay in a (Describe|Modify)TargetGroupAttributes response."""
    attributes = {a["Key"]: a.get("Value") for a in (resp or {}).get("Attributes", [])}
    value = attributes.get(DEREGISTRATION)
    return int(value) if value and value.isdigit() else None


class TargetGroup(Kind):
    name = "target_group"
    service = "elasticloadbalancing"
    iam_actions = (
        *TREE_ACTIONS,
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:DeleteTargetGroup",
    )
    replace_fields = frozenset({"port", "protocol", "target_type", "vpc_id"})
    # The name is chosen at create time from the stack and service (their identity, which
    # cannot change) and AWS cannot rename: a group keeps the name it was created with,
    # so a change of the naming scheme does not replace groups that listeners still use.
    ignore_fields = frozenset({"name"})

    def __init__(self) -> None:
        self._delays = Readings()

    async def _owned(self, ctx: KindContext) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        return await owned_items(ctx, await read_target_groups(ctx), "TargetGroupArn")

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        tree = await stack_tree(ctx)
        owned = owned_from(ctx, tree.target_groups, "TargetGroupArn", tree.tags)
        arn_of = {lid: tg["TargetGroupArn"] for lid, (tg, _) in owned.items()}
        self._delays.keep_only(ctx.stack, arn_of.values())
        due = self._delays.due(ctx.stack, arn_of.values())
        # a reading that says the group drifted is checked before it counts
        due |= {
            arn
            for lid, arn in arn_of.items()
            if self._cached_delay(ctx, arn) != (params.get(lid) or {}).get("deregistration_delay")
        }
        await asyncio.gather(*(self._read_delay(ctx, arn) for arn in due))
        return {
            lid: self._observed(ctx, lid, tg, tags, params.get(lid), self._cached_delay(ctx, arn))
            for (lid, (tg, tags)), arn in zip(owned.items(), arn_of.values(), strict=True)
        }

    def _cached_delay(self, ctx: KindContext, arn: str) -> int | None:
        reading = self._delays.get(ctx.stack, arn)
        return reading.value if reading is not None else None

    async def _read_delay(self, ctx: KindContext, arn: str) -> int | None:
        elb = await ctx.client("elbv2")
        delay = _delay_of(
            await ignore_not_found(elb.describe_target_group_attributes(TargetGroupArn=arn))
        )
        self._delays.put(ctx.stack, arn, delay)
        return delay

    def remember(self, stack: str) -> Any:
        return self._delays.export(stack) or None

    def recall(self, stack: str, memory: Any, age_offset: float) -> int:
        return self._delays.load(stack, memory, age_offset, _is_delay)

    def forget(self, stack: str, names: frozenset[str]) -> None:
        self._delays.forget(stack, names)

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        tg: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        delay: int | None = None,
    ) -> Observed:
        arn = tg["TargetGroupArn"]
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
                "deregistration_delay": delay,
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": arn, "id": arn, "name": tg["TargetGroupName"]},
        )

    def _tags(self, ctx: KindContext, desired: Resolved) -> dict[str, str]:
        return desired_tags(ctx, self.name, desired.logical_id, desired.params)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # A second CreateTargetGroup with the same name fails in moto: look up first.
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            tg, tags = existing
            delay = await self._read_delay(ctx, tg["TargetGroupArn"])
            return self._observed(ctx, desired.logical_id, tg, tags, desired.params, delay)
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
        delay = await self._set_delay(ctx, elb, tg["TargetGroupArn"], p["deregistration_delay"])
        return self._observed(ctx, desired.logical_id, tg, tags, p, delay)

    async def _set_delay(self, ctx: KindContext, elb: Any, arn: str, seconds: int) -> int | None:
        """Set the delay; the response's attributes are a reading like any other."""
        resp = await elb.modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=[{"Key": DEREGISTRATION, "Value": str(seconds)}]
        )
        delay = _delay_of(resp)
        self._delays.put(ctx.stack, arn, delay)
        return delay

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
        delay = observed.fields.get("deregistration_delay")
        if delta.changed("deregistration_delay"):
            delay = await self._set_delay(ctx, elb, arn, p["deregistration_delay"])
        tags = self._tags(ctx, desired)
        if delta.changed("tags"):
            await elb.add_tags(ResourceArns=[arn], Tags=tag_list(tags))
        if tg is None:
            (tg,) = (await elb.describe_target_groups(TargetGroupArns=[arn]))["TargetGroups"]
        return self._observed(ctx, desired.logical_id, tg, tags, p, delay)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        elb = await ctx.client("elbv2")
        await ignore_not_found(elb.delete_target_group(TargetGroupArn=observed.physical_id))
