"""ECS service on Fargate capacity providers, in private subnets, behind a target group,
registered in Cloud Map, with a deployment circuit breaker and ECS Exec.

Observe: `list_services` for the cluster, then `describe_services` in batches of 10 (the
API's limit) with tags. With autoscaling, the desired count belongs to the autoscaler:
render then passes `initial_desired_count` (create only, ignored by the diff) instead
of `desired_count`, so a scaled service is never drift.

moto's create_service drops the circuit breaker, ECS Exec and capacity provider
strategy (update_service stores them); `create` therefore checks what came back and
sends one update_service for anything that did not stick. On AWS that update is not
needed and not sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import UNKNOWN, Delta, Kind, KindContext, Observed, Resolved
from controller.engine.diff import diff
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
)

BATCH = 10


def _strategy(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "capacity_provider": i["capacityProvider"],
            "weight": int(i.get("weight", 0)),
            "base": int(i.get("base", 0)),
        }
        for i in items
    ]


class EcsService(Kind):
    name = "ecs_service"
    service = "ecs"
    iam_actions = (
        "ecs:ListServices",
        "ecs:DescribeServices",
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:TagResource",
    )
    # The first CreateService in an account creates ECS's service-linked role.
    iam_implied = ("iam:CreateServiceLinkedRole",)
    ignore_fields = frozenset({"initial_desired_count"})
    replace_fields = frozenset({"name", "cluster"})
    unordered_fields = frozenset(
        {"network.subnets", "network.security_groups", "load_balancers", "service_registries"}
    )

    def normalise(self, path: str, value: Any) -> Any:
        # Without a load balancer there is no grace period: absent and 0 mean the same.
        if path == "health_check_grace_period" and not value:
            return None
        return value

    # --- observe -------------------------------------------------------------------
    async def _describe(self, ctx: KindContext, cluster: str, arns: list[str]) -> list[Any]:
        ecs = await ctx.client("ecs")
        services: list[Any] = []
        for i in range(0, len(arns), BATCH):
            resp = await ecs.describe_services(
                cluster=cluster, services=arns[i : i + BATCH], include=["TAGS"]
            )
            services += [s for s in resp.get("services", []) if s.get("status") == "ACTIVE"]
        return services

    async def _named(
        self, ctx: KindContext, cluster: str, name: str, wanted: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Observed]:
        """One service by name (the create-time lookup), as `_owned` would see it."""
        try:
            services = await self._describe(ctx, cluster, [name])
        except Exception as exc:
            if "ClusterNotFound" in str(exc):
                return {}
            raise
        return self._by_logical_id(ctx, services, wanted)

    def _by_logical_id(
        self, ctx: KindContext, services: list[Any], wanted: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Observed]:
        found: dict[str, Observed] = {}
        for svc in services:
            logical_id = ctx.owns(tag_map(svc.get("tags"), "key", "value"))
            if logical_id is not None and logical_id not in found:
                found[logical_id] = self._observed(ctx, logical_id, svc, wanted.get(logical_id))
        return found

    async def _owned(
        self, ctx: KindContext, cluster: str, wanted: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Observed]:
        ecs = await ctx.client("ecs")
        arns: list[str] = []
        try:
            async for page in ecs.get_paginator("list_services").paginate(
                cluster=cluster, PaginationConfig={"PageSize": 100}
            ):
                arns += page.get("serviceArns", [])
        except Exception as exc:
            if "ClusterNotFound" in str(exc):
                return {}
            raise
        return self._by_logical_id(ctx, await self._describe(ctx, cluster, arns), wanted)

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        s: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        net = (s.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        dep = s.get("deploymentConfiguration") or {}
        breaker = dep.get("deploymentCircuitBreaker") or {}
        cluster = str(s.get("clusterArn", "")).rsplit("/", 1)[-1]
        tags = tag_map(s.get("tags"), "key", "value")
        fields: dict[str, Any] = {
            "name": s["serviceName"],
            "cluster": cluster,
            "task_definition": s.get("taskDefinition"),
            "desired_count": s.get("desiredCount"),
            "capacity_provider_strategy": _strategy(s.get("capacityProviderStrategy") or []),
            "network": {
                "subnets": sorted(net.get("subnets", [])),
                "security_groups": sorted(net.get("securityGroups", [])),
                "assign_public_ip": net.get("assignPublicIp", "DISABLED"),
            },
            "load_balancers": [
                {
                    "target_group_arn": lb.get("targetGroupArn"),
                    "container_name": lb.get("containerName"),
                    "container_port": lb.get("containerPort"),
                }
                for lb in s.get("loadBalancers") or []
            ],
            "service_registries": [
                {"registry_arn": r.get("registryArn")} for r in s.get("serviceRegistries") or []
            ],
            "circuit_breaker": {
                "enable": bool(breaker.get("enable", False)),
                "rollback": bool(breaker.get("rollback", False)),
            },
            "maximum_percent": dep.get("maximumPercent", 200),
            "minimum_healthy_percent": dep.get("minimumHealthyPercent", 100),
            "enable_execute_command": bool(s.get("enableExecuteCommand", False)),
            "health_check_grace_period": s.get("healthCheckGracePeriodSeconds"),
            "propagate_tags": s.get("propagateTags", "NONE"),
            "enable_ecs_managed_tags": bool(s.get("enableECSManagedTags", False)),
            "tags": live_tags(ctx, self.name, logical_id, tags, params),
        }
        return Observed(
            logical_id=logical_id,
            physical_id=s["serviceArn"],
            fields=fields,
            outputs={
                "arn": s["serviceArn"],
                "name": s["serviceName"],
                "cluster": cluster,
                "resource_id": f"service/{cluster}/{s['serviceName']}",
                "desired_count": s.get("desiredCount", 0),
                "running_count": s.get("runningCount", 0),
                "pending_count": s.get("pendingCount", 0),
            },
            ready=s.get("status") == "ACTIVE",
            status=str(s.get("status", "")),
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        clusters = {
            str(d.params["cluster"])
            for d in desired
            if d.params.get("cluster") not in (None, UNKNOWN)
        } or {ctx.stack}
        found: dict[str, Observed] = {}
        for cluster in sorted(clusters):
            found.update(await self._owned(ctx, cluster, params_by_id(desired)))
        return found

    # --- writes --------------------------------------------------------------------
    @staticmethod
    def _mutable_args(p: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments create_service and update_service share."""
        args: dict[str, Any] = {
            "taskDefinition": p["task_definition"],
            "capacityProviderStrategy": [
                {
                    "capacityProvider": i["capacity_provider"],
                    "weight": i["weight"],
                    "base": i["base"],
                }
                for i in p["capacity_provider_strategy"]
            ],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(p["network"]["subnets"]),
                    "securityGroups": list(p["network"]["security_groups"]),
                    "assignPublicIp": p["network"]["assign_public_ip"],
                }
            },
            "loadBalancers": [
                {
                    "targetGroupArn": lb["target_group_arn"],
                    "containerName": lb["container_name"],
                    "containerPort": int(lb["container_port"]),
                }
                for lb in p["load_balancers"]
            ],
            "serviceRegistries": [
                {"registryArn": r["registry_arn"]} for r in p["service_registries"]
            ],
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {
                    "enable": bool(p["circuit_breaker"]["enable"]),
                    "rollback": bool(p["circuit_breaker"]["rollback"]),
                },
                "maximumPercent": int(p["maximum_percent"]),
                "minimumHealthyPercent": int(p["minimum_healthy_percent"]),
            },
            "enableExecuteCommand": bool(p["enable_execute_command"]),
            "propagateTags": p["propagate_tags"],
            "enableECSManagedTags": bool(p["enable_ecs_managed_tags"]),
        }
        if p.get("health_check_grace_period") is not None:
            args["healthCheckGracePeriodSeconds"] = int(p["health_check_grace_period"])
        return args

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        # A second create_service with the same name silently replaces the first in moto
        # and fails on AWS: look up first.
        existing = (await self._named(ctx, p["cluster"], p["name"], {desired.logical_id: p})).get(
            desired.logical_id
        )
        if existing is not None:
            return existing
        ecs = await ctx.client("ecs")
        count = p.get("desired_count", p.get("initial_desired_count", 1))
        created = await ecs.create_service(
            cluster=p["cluster"],
            serviceName=p["name"],
            desiredCount=int(count),
            schedulingStrategy="REPLICA",
            tags=tag_list(
                desired_tags(ctx, self.name, desired.logical_id, desired.params), "key", "value"
            ),
            **self._mutable_args(p),
        )
        observed = self._observed(ctx, desired.logical_id, created["service"], p)
        missed = diff(self, p, observed.fields)
        if missed:  # fields the create call did not apply (moto; see the module doc)
            return await self.update(ctx, desired, observed, missed)
        return observed

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ecs = await ctx.client("ecs")
        p = desired.params
        args: dict[str, Any] = {}
        mutable = self._mutable_args(p)
        for path, arg in (
            ("task_definition", "taskDefinition"),
            ("capacity_provider_strategy", "capacityProviderStrategy"),
            ("network", "networkConfiguration"),
            ("load_balancers", "loadBalancers"),
            ("service_registries", "serviceRegistries"),
            ("circuit_breaker", "deploymentConfiguration"),
            ("maximum_percent", "deploymentConfiguration"),
            ("minimum_healthy_percent", "deploymentConfiguration"),
            ("enable_execute_command", "enableExecuteCommand"),
            ("health_check_grace_period", "healthCheckGracePeriodSeconds"),
            ("propagate_tags", "propagateTags"),
            ("enable_ecs_managed_tags", "enableECSManagedTags"),
        ):
            if delta.changed(path) and arg in mutable:
                args[arg] = mutable[arg]
        if delta.changed("desired_count") and "desired_count" in p:
            args["desiredCount"] = int(p["desired_count"])
        if "capacityProviderStrategy" in args:
            args["forceNewDeployment"] = True  # AWS requires it to change the strategy
        if args:
            await ecs.update_service(cluster=p["cluster"], service=observed.physical_id, **args)
        if delta.changed("tags"):
            await ecs.tag_resource(
                resourceArn=observed.physical_id,
                tags=tag_list(
                    desired_tags(ctx, self.name, desired.logical_id, desired.params), "key", "value"
                ),
            )
        (svc,) = await self._describe(ctx, p["cluster"], [observed.physical_id])
        return self._observed(ctx, desired.logical_id, svc, p)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ecs = await ctx.client("ecs")
        cluster = observed.fields.get("cluster") or ctx.stack
        await ignore_not_found(
            ecs.delete_service(cluster=cluster, service=observed.physical_id, force=True)
        )
