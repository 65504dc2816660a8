"""ECS cluster: Container Insights, Fargate capacity providers and the default strategy.

The cluster is named after the stack, so one `describe_clusters` call finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
)


def strategy_params(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "capacity_provider": i["capacityProvider"],
            "weight": int(i.get("weight", 0)),
            "base": int(i.get("base", 0)),
        }
        for i in items
    ]


def strategy_api(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"capacityProvider": i["capacity_provider"], "weight": i["weight"], "base": i["base"]}
        for i in items
    ]


class EcsCluster(Kind):
    name = "ecs_cluster"
    service = "ecs"
    iam_actions = (
        "ecs:DescribeClusters",
        "ecs:CreateCluster",
        "ecs:UpdateCluster",
        "ecs:PutClusterCapacityProviders",
        "ecs:TagResource",
        "ecs:DeleteCluster",
    )
    replace_fields = frozenset({"name"})
    unordered_fields = frozenset({"capacity_providers", "default_strategy"})

    async def _describe(self, ctx: KindContext, name: str) -> dict[str, Any] | None:
        ecs = await ctx.client("ecs")
        found = await ecs.describe_clusters(clusters=[name], include=["TAGS", "SETTINGS"])
        for cluster in found.get("clusters", []):
            if cluster.get("status") != "INACTIVE":
                return dict(cluster)
        return None

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        cluster: dict[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        settings = {s["name"]: s["value"] for s in cluster.get("settings", [])}
        tags = tag_map(cluster.get("tags"), "key", "value")
        return Observed(
            logical_id=logical_id,
            physical_id=cluster["clusterArn"],
            fields={
                "name": cluster["clusterName"],
                "container_insights": settings.get("containerInsights", "disabled"),
                "capacity_providers": list(cluster.get("capacityProviders", [])),
                "default_strategy": strategy_params(
                    cluster.get("defaultCapacityProviderStrategy", [])
                ),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"arn": cluster["clusterArn"], "name": cluster["clusterName"]},
            ready=cluster.get("status") == "ACTIVE",
            status=str(cluster.get("status", "")),
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        # The cluster is named after the stack unless the spec names it (an adopted one).
        names = {str(d.params["name"]) for d in desired if isinstance(d.params.get("name"), str)}
        wanted = params_by_id(desired)
        found: dict[str, Observed] = {}
        for name in sorted(names | {ctx.stack}):
            cluster = await self._describe(ctx, name)
            if cluster is None:
                continue
            logical_id = ctx.owns(tag_map(cluster.get("tags"), "key", "value"))
            if logical_id is not None and logical_id not in found:
                found[logical_id] = self._observed(ctx, logical_id, cluster, wanted.get(logical_id))
        return found

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        existing = await self._describe(ctx, p["name"])
        if existing is not None:
            owner = ctx.owns(tag_map(existing.get("tags"), "key", "value"))
            if owner != desired.logical_id:
                raise RuntimeError(f"ECS cluster {p['name']} exists and is not this stack's")
            return self._observed(ctx, desired.logical_id, existing, desired.params)
        ecs = await ctx.client("ecs")
        created = await ecs.create_cluster(
            clusterName=p["name"],
            settings=[{"name": "containerInsights", "value": p["container_insights"]}],
            capacityProviders=list(p["capacity_providers"]),
            defaultCapacityProviderStrategy=strategy_api(p["default_strategy"]),
            tags=tag_list(
                desired_tags(ctx, self.name, desired.logical_id, desired.params), "key", "value"
            ),
        )
        return self._observed(ctx, desired.logical_id, created["cluster"], desired.params)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ecs = await ctx.client("ecs")
        p = desired.params
        arn = observed.physical_id
        if delta.changed("container_insights"):
            await ecs.update_cluster(
                cluster=arn,
                settings=[{"name": "containerInsights", "value": p["container_insights"]}],
            )
        if delta.changed("capacity_providers") or delta.changed("default_strategy"):
            await ecs.put_cluster_capacity_providers(
                cluster=arn,
                capacityProviders=list(p["capacity_providers"]),
                defaultCapacityProviderStrategy=strategy_api(p["default_strategy"]),
            )
        if delta.changed("tags"):
            await ecs.tag_resource(
                resourceArn=arn,
                tags=tag_list(
                    desired_tags(ctx, self.name, desired.logical_id, desired.params), "key", "value"
                ),
            )
        cluster = await self._describe(ctx, p["name"])
        assert cluster is not None
        return self._observed(ctx, desired.logical_id, cluster, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ecs = await ctx.client("ecs")
        await ignore_not_found(ecs.delete_cluster(cluster=observed.physical_id))
