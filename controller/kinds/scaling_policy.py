"""Target-tracking scaling policy (CPU or memory) on a service's scalable target.

`describe_scaling_policies` (one call per page, namespace ecs) lists them all. Like the
targets they carry no tags: a policy is the stack's when its resource id names a
service in the stack's cluster, and its name is its logical id (`<service>-cpu`) unless
the spec names it otherwise (an adopted policy keeps its name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Retryable
from controller.kinds.compute_common import (
    SCALING_DIMENSION,
    SCALING_NAMESPACE,
    desired_clusters,
    stack_service,
    target_key,
)
from controller.kinds.tags_common import ignore_not_found


def _resource_id(target: str) -> str:
    return target.split("#", 1)[0]


class ScalingPolicy(Kind):
    name = "scaling_policy"
    service = "application-autoscaling"
    iam_actions = (
        "application-autoscaling:DescribeScalingPolicies",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
    )
    # Target tracking creates and deletes its CloudWatch alarms as the caller.
    iam_implied = (
        "cloudwatch:DescribeAlarms",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
    )
    replace_fields = frozenset({"target", "policy_name"})

    @staticmethod
    def _observed(p: Mapping[str, Any], logical_id: str | None = None) -> Observed:
        config = p.get("TargetTrackingScalingPolicyConfiguration") or {}
        metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        return Observed(
            logical_id=logical_id or p["PolicyName"],
            physical_id=p["PolicyARN"],
            fields={
                "policy_name": p["PolicyName"],
                "target": target_key(p["ResourceId"]),
                "metric": metric,
                "target_value": float(config.get("TargetValue", 0)),
                "scale_in_cooldown": config.get("ScaleInCooldown"),
                "scale_out_cooldown": config.get("ScaleOutCooldown"),
                "disable_scale_in": bool(config.get("DisableScaleIn", False)),
            },
            outputs={"arn": p["PolicyARN"], "name": p["PolicyName"]},
            private={"resource_id": p["ResourceId"]},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        aas = await ctx.client("application-autoscaling")
        found: dict[str, Observed] = {}
        clusters = desired_clusters(d.params.get("target") for d in desired)
        ids = {str(d.params.get("policy_name")): d.logical_id for d in desired}
        # AWS returns at most 10 policies a page (moto 100): ask for AWS's page so call
        # counts measured against moto are the ones AWS would see.
        async for page in aas.get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=SCALING_NAMESPACE, PaginationConfig={"PageSize": 10}
        ):
            for p in page.get("ScalingPolicies", []):
                if p.get("ScalableDimension") != SCALING_DIMENSION:
                    continue
                if stack_service(ctx, p["ResourceId"], clusters) is None:
                    continue
                if p.get("PolicyType") == "TargetTrackingScaling":
                    logical_id = ids.get(p["PolicyName"], p["PolicyName"])
                    found.setdefault(logical_id, self._observed(p, logical_id))
        return found

    async def _put(self, ctx: KindContext, desired: Resolved) -> Observed:
        aas = await ctx.client("application-autoscaling")
        p = desired.params
        await aas.put_scaling_policy(
            PolicyName=p["policy_name"],
            ServiceNamespace=SCALING_NAMESPACE,
            ResourceId=_resource_id(p["target"]),
            ScalableDimension=SCALING_DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(p["target_value"]),
                "PredefinedMetricSpecification": {"PredefinedMetricType": p["metric"]},
                "ScaleInCooldown": int(p["scale_in_cooldown"]),
                "ScaleOutCooldown": int(p["scale_out_cooldown"]),
                "DisableScaleIn": bool(p["disable_scale_in"]),
            },
        )
        found = await self._find(ctx, desired)
        if found is None:  # not listed yet: the engine retries
            raise Retryable(f"scaling policy {desired.logical_id} not listed yet", after=2.0)
        return found

    async def _find(self, ctx: KindContext, desired: Resolved) -> Observed | None:
        """This one policy, read from its service's policies (one call, not every page of
        the namespace: AWS serves 10 policies a page)."""
        aas = await ctx.client("application-autoscaling")
        resp = await aas.describe_scaling_policies(
            ServiceNamespace=SCALING_NAMESPACE,
            ResourceId=_resource_id(desired.params["target"]),
            ScalableDimension=SCALING_DIMENSION,
            PolicyNames=[desired.params["policy_name"]],
        )
        for p in resp.get("ScalingPolicies", []):
            if (
                p.get("PolicyName") == desired.params["policy_name"]
                and p.get("PolicyType") == "TargetTrackingScaling"
                and stack_service(
                    ctx, p["ResourceId"], desired_clusters([desired.params["target"]])
                )
                is not None
            ):
                return self._observed(p, desired.logical_id)
        return None

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # PutScalingPolicy is an upsert, but moto gives the policy a new ARN each time.
        existing = await self._find(ctx, desired)
        if existing is not None:
            return existing
        return await self._put(ctx, desired)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        return await self._put(ctx, desired)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        aas = await ctx.client("application-autoscaling")
        try:
            await ignore_not_found(
                aas.delete_scaling_policy(
                    PolicyName=observed.fields["policy_name"],
                    ServiceNamespace=SCALING_NAMESPACE,
                    ResourceId=observed.private["resource_id"],
                    ScalableDimension=SCALING_DIMENSION,
                )
            )
        except Exception as exc:
            if "No scaling policy found" not in str(exc):
                raise
