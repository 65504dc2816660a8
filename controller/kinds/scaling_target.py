"""Application Auto Scaling target for an ECS service's desired count (min/max).

`describe_scalable_targets` (one call per page, namespace ecs) returns no tags, and
moto does not keep tags on scalable targets. A target belongs to the stack when its
resource id names a service in the stack's cluster (the cluster is named after the
stack and carries our tags); the logical id is the service name. Tags are still sent
at registration for AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.compute_common import SCALING_DIMENSION as DIMENSION
from controller.kinds.compute_common import SCALING_NAMESPACE as NAMESPACE
from controller.kinds.compute_common import desired_clusters, stack_service, target_key
from controller.kinds.tags_common import desired_tags, ignore_not_found


class ScalingTarget(Kind):
    name = "scaling_target"
    service = "application-autoscaling"
    iam_actions = (
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:TagResource",
    )
    # Registering an ECS service checks these on the caller (AWS ECS developer guide,
    # "IAM permissions required for Amazon ECS service auto scaling").
    iam_implied = (
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "iam:CreateServiceLinkedRole",
    )
    replace_fields = frozenset({"resource_id"})

    async def _targets(self, ctx: KindContext) -> list[dict[str, Any]]:
        aas = await ctx.client("application-autoscaling")
        targets: list[dict[str, Any]] = []
        async for page in aas.get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace=NAMESPACE
        ):
            targets += page.get("ScalableTargets", [])
        return targets

    @staticmethod
    def _observed(logical_id: str, t: dict[str, Any]) -> Observed:
        return Observed(
            logical_id=logical_id,
            physical_id=t["ResourceId"],
            fields={
                "resource_id": t["ResourceId"],
                "min_capacity": t.get("MinCapacity"),
                "max_capacity": t.get("MaxCapacity"),
            },
            outputs={
                "resource_id": t["ResourceId"],
                "target": target_key(t["ResourceId"]),
                "min_capacity": t.get("MinCapacity"),
                "max_capacity": t.get("MaxCapacity"),
            },
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        found: dict[str, Observed] = {}
        clusters = desired_clusters(d.params.get("resource_id") for d in desired)
        for t in await self._targets(ctx):
            if t.get("ScalableDimension") != DIMENSION:
                continue
            logical_id = stack_service(ctx, t["ResourceId"], clusters)
            if logical_id is not None:
                found[logical_id] = self._observed(logical_id, t)
        return found

    async def _register(self, ctx: KindContext, desired: Resolved, *, tags: bool) -> Observed:
        aas = await ctx.client("application-autoscaling")
        p = desired.params
        extra: dict[str, Any] = {}
        if tags:
            extra["Tags"] = desired_tags(ctx, self.name, desired.logical_id, desired.params)
        await aas.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=p["resource_id"],
            ScalableDimension=DIMENSION,
            MinCapacity=int(p["min_capacity"]),
            MaxCapacity=int(p["max_capacity"]),
            **extra,
        )
        return (await self.observe(ctx, [desired]))[desired.logical_id]

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # RegisterScalableTarget is an upsert: calling it again is idempotent.
        return await self._register(ctx, desired, tags=True)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        return await self._register(ctx, desired, tags=False)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        aas = await ctx.client("application-autoscaling")
        try:
            await ignore_not_found(
                aas.deregister_scalable_target(
                    ServiceNamespace=NAMESPACE,
                    ResourceId=observed.physical_id,
                    ScalableDimension=DIMENSION,
                )
            )
        except Exception as exc:
            if "No scalable target found" not in str(exc):
                raise
