"""DB subnet group over the private data subnets.

DescribeDBSubnetGroups returns no tags: ours are found by name prefix and confirmed
with ListTagsForResource (one call per candidate, normally one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code
from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Retryable
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
)


class DbSubnetGroup(Kind):
    name = "db_subnet_group"
    service = "rds"
    iam_actions = (
        "rds:DescribeDBSubnetGroups",
        "rds:ListTagsForResource",
        "rds:CreateDBSubnetGroup",
        "rds:ModifyDBSubnetGroup",
        "rds:AddTagsToResource",
        "rds:DeleteDBSubnetGroup",
    )
    replace_fields = frozenset({"name"})
    unordered_fields = frozenset({"subnet_ids"})

    async def _owned(self, ctx: KindContext) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        rds = await ctx.client("rds")
        prefix = ctx.stack[:20].lower()
        groups: list[dict[str, Any]] = []
        async for page in rds.get_paginator("describe_db_subnet_groups").paginate():
            groups += [
                g
                for g in page.get("DBSubnetGroups", [])
                if g["DBSubnetGroupName"].startswith(prefix)
            ]
        tag_lists = await asyncio.gather(
            *(rds.list_tags_for_resource(ResourceName=g["DBSubnetGroupArn"]) for g in groups)
        )
        found: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
        for group, listed in zip(groups, tag_lists, strict=True):
            tags = tag_map(listed.get("TagList"))
            logical_id = ctx.owns(tags)
            if logical_id is not None and logical_id not in found:
                found[logical_id] = (group, tags)
        return found

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        return {
            lid: self._observed(ctx, lid, group, tags, params.get(lid))
            for lid, (group, tags) in (await self._owned(ctx)).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        group: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        name = group["DBSubnetGroupName"]
        return Observed(
            logical_id=logical_id,
            physical_id=name,
            fields={
                "name": name,
                "description": group.get("DBSubnetGroupDescription", ""),
                "subnet_ids": [s["SubnetIdentifier"] for s in group.get("Subnets", [])],
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"id": name, "name": name, "arn": group.get("DBSubnetGroupArn", "")},
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, *existing, desired.params)
        rds = await ctx.client("rds")
        p = desired.params
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        group = (
            await rds.create_db_subnet_group(
                DBSubnetGroupName=p["name"],
                DBSubnetGroupDescription=p["description"],
                SubnetIds=list(p["subnet_ids"]),
                Tags=tag_list(tags),
            )
        )["DBSubnetGroup"]
        return self._observed(ctx, desired.logical_id, group, tags, p)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        rds = await ctx.client("rds")
        p = desired.params
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        group: Mapping[str, Any] | None = None
        if delta.changed("subnet_ids") or delta.changed("description"):
            group = (
                await rds.modify_db_subnet_group(
                    DBSubnetGroupName=observed.physical_id,
                    DBSubnetGroupDescription=p["description"],
                    SubnetIds=list(p["subnet_ids"]),
                )
            )["DBSubnetGroup"]
        if delta.changed("tags"):
            await rds.add_tags_to_resource(
                ResourceName=observed.outputs["arn"], Tags=tag_list(tags)
            )
        if group is None:
            (group,) = (
                await rds.describe_db_subnet_groups(DBSubnetGroupName=observed.physical_id)
            )["DBSubnetGroups"]
        return self._observed(ctx, desired.logical_id, group, tags, p)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        rds = await ctx.client("rds")
        try:
            await ignore_not_found(
                rds.delete_db_subnet_group(DBSubnetGroupName=observed.physical_id)
            )
        except Exception as exc:
            if error_code(exc) == "InvalidDBSubnetGroupStateFault":
                raise Retryable(f"{observed.physical_id} is still in use", after=30.0) from exc
            raise
