"""CloudWatch log group per service, with retention. Retained when its service goes.

One `describe_log_groups` call per page finds the stack's groups by name prefix; their
tags (ownership, and the retain-on-delete policy written at create: the spec of a
removed service is gone) come from the stack's tagging-API read (see stack_tags), else
are read once per group and process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.engine.kind import DeletionMode
from controller.kinds.compute_common import RETAIN_NOTE, RETAIN_TAG
from controller.kinds.stack_tags import GET_RESOURCES, tags_of
from controller.kinds.tags_common import RemembersTags, TagCache, desired_tags, ignore_not_found


def _arn(group: dict[str, Any]) -> str:
    arn = str(group.get("logGroupArn") or group["arn"])
    return arn.removesuffix(":*")


class LogGroup(RemembersTags, Kind):
    name = "log_group"
    service = "logs"
    iam_actions = (
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        GET_RESOURCES,
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:TagResource",
        "logs:DeleteLogGroup",
    )
    replace_fields = frozenset({"name"})
    binds_referrers = False  # referrers only name it
    protects_data = True

    def __init__(self) -> None:
        self._tags = TagCache()

    async def _list(self, ctx: KindContext, prefix: str) -> list[dict[str, Any]]:
        logs = await ctx.client("logs")
        groups: list[dict[str, Any]] = []
        async for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix
        ):
            groups += page.get("logGroups", [])
        return groups

    async def _owned(self, ctx: KindContext, groups: list[dict[str, Any]]) -> dict[str, Observed]:
        logs = await ctx.client("logs")

        async def fetch(arn: str) -> dict[str, str]:
            return dict((await logs.list_tags_for_resource(resourceArn=arn)).get("tags", {}))

        tags = await tags_of(
            ctx, ((_arn(g), str(g.get("creationTime"))) for g in groups), self._tags, fetch
        )
        found: dict[str, Observed] = {}
        for group in groups:
            logical_id = ctx.owns(tags[_arn(group)])
            if logical_id is not None:
                found[logical_id] = self._observed(logical_id, group, tags[_arn(group)])
        return found

    def _observed(self, logical_id: str, group: dict[str, Any], tags: dict[str, str]) -> Observed:
        arn = _arn(group)
        region = arn.split(":")[3] if arn.count(":") >= 4 else ""
        return Observed(
            logical_id=logical_id,
            physical_id=group["logGroupName"],
            fields={
                "name": group["logGroupName"],
                "retention_days": group.get("retentionInDays"),
                "retain_on_delete": tags.get(RETAIN_TAG, "true") == "true",
            },
            outputs={
                "name": group["logGroupName"],
                "arn": arn,
                "streams_arn": f"{arn}:log-stream:*",
                "region": region,
            },
            private={"created": str(group.get("creationTime"))},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return await self._owned(ctx, await self._list(ctx, f"/ecs/{ctx.stack}/"))

    def _tags_for(self, ctx: KindContext, desired: Resolved) -> dict[str, str]:
        retain = "true" if desired.params.get("retain_on_delete", True) else "false"
        return {
            **desired_tags(ctx, self.name, desired.logical_id, desired.params),
            RETAIN_TAG: retain,
        }

    async def _find(self, ctx: KindContext, desired: Resolved) -> Observed | None:
        found = await self._owned(ctx, await self._list(ctx, desired.params["name"]))
        return found.get(desired.logical_id)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await self._find(ctx, desired)
        if existing is not None:
            return existing
        logs = await ctx.client("logs")
        tags = self._tags_for(ctx, desired)
        await logs.create_log_group(logGroupName=desired.params["name"], tags=tags)
        await logs.put_retention_policy(
            logGroupName=desired.params["name"],
            retentionInDays=int(desired.params["retention_days"]),
        )
        groups = await self._list(ctx, desired.params["name"])
        group = next(g for g in groups if g["logGroupName"] == desired.params["name"])
        self._tags.put(_arn(group), str(group.get("creationTime")), tags)
        return self._observed(desired.logical_id, group, tags)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        logs = await ctx.client("logs")
        p = desired.params
        if delta.changed("retention_days"):
            # Always set: the spec's default is 7 days and "never expire" is not offered.
            await logs.put_retention_policy(
                logGroupName=p["name"], retentionInDays=int(p["retention_days"])
            )
        if delta.changed("retain_on_delete"):
            tags = self._tags_for(ctx, desired)
            await logs.tag_resource(resourceArn=observed.outputs["arn"], tags=tags)
            self._tags.merge(observed.outputs["arn"], observed.private["created"], tags)
        found = await self._find(ctx, desired)
        assert found is not None
        return found

    def deletion(self, observed: Observed) -> tuple[DeletionMode, str]:
        if observed.fields.get("retain_on_delete", True):
            return "retain", RETAIN_NOTE.format(what="log group", data="logs")
        return "delete", ""

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        logs = await ctx.client("logs")
        await ignore_not_found(logs.delete_log_group(logGroupName=observed.physical_id))
