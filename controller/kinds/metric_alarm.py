"""CloudWatch metric alarm (a service's CPU or memory above a threshold).

`describe_alarms` with the stack's name prefix (one call per page) finds candidates;
ownership tags come from the stack's tagging-API read (see stack_tags), else are read
once per alarm and process. PutMetricAlarm is an upsert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.stack_tags import GET_RESOURCES, tags_of
from controller.kinds.tags_common import TagCache, desired_tags, ignore_not_found, tag_list, tag_map


class MetricAlarm(Kind):
    name = "metric_alarm"
    service = "cloudwatch"
    iam_actions = (
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        GET_RESOURCES,
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:TagResource",
        "cloudwatch:DeleteAlarms",
    )
    replace_fields = frozenset({"alarm_name"})
    unordered_fields = frozenset({"alarm_actions"})

    def __init__(self) -> None:
        self._tags = TagCache()

    async def _alarms(self, ctx: KindContext, prefix: str) -> list[dict[str, Any]]:
        cw = await ctx.client("cloudwatch")
        alarms: list[dict[str, Any]] = []
        async for page in cw.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=prefix,
            AlarmTypes=["MetricAlarm"],
            PaginationConfig={"PageSize": 100},  # AWS's largest page (default 50)
        ):
            alarms += page.get("MetricAlarms", [])
        return alarms

    async def _owned(self, ctx: KindContext, prefix: str) -> dict[str, Observed]:
        cw = await ctx.client("cloudwatch")
        alarms = await self._alarms(ctx, prefix)

        async def fetch(arn: str) -> dict[str, str]:
            return tag_map((await cw.list_tags_for_resource(ResourceARN=arn)).get("Tags"))

        # An alarm's ARN is its name; the configuration timestamp changes on every put,
        # so ownership is cached by ARN alone.
        tags = await tags_of(ctx, ((a["AlarmArn"], "") for a in alarms), self._tags, fetch)
        found: dict[str, Observed] = {}
        for alarm in alarms:
            logical_id = ctx.owns(tags[alarm["AlarmArn"]])
            if logical_id is not None and logical_id not in found:
                found[logical_id] = self._observed(logical_id, alarm)
        return found

    @staticmethod
    def _observed(logical_id: str, a: Mapping[str, Any]) -> Observed:
        return Observed(
            logical_id=logical_id,
            physical_id=a["AlarmName"],
            fields={
                "alarm_name": a["AlarmName"],
                "namespace": a.get("Namespace"),
                "metric_name": a.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in a.get("Dimensions", [])},
                "statistic": a.get("Statistic"),
                "period": a.get("Period"),
                "evaluation_periods": a.get("EvaluationPeriods"),
                "threshold": float(a.get("Threshold", 0)),
                "comparison": a.get("ComparisonOperator"),
                "alarm_actions": list(a.get("AlarmActions", [])),
                "treat_missing_data": a.get("TreatMissingData", "missing"),
            },
            outputs={"arn": a["AlarmArn"], "name": a["AlarmName"]},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return await self._owned(ctx, f"{ctx.stack}-")

    async def _put(self, ctx: KindContext, desired: Resolved, *, tags: bool) -> Observed:
        cw = await ctx.client("cloudwatch")
        p = desired.params
        extra: dict[str, Any] = {}
        if tags:
            extra["Tags"] = tag_list(
                desired_tags(ctx, self.name, desired.logical_id, desired.params)
            )
        await cw.put_metric_alarm(
            AlarmName=p["alarm_name"],
            Namespace=p["namespace"],
            MetricName=p["metric_name"],
            Dimensions=[{"Name": k, "Value": v} for k, v in sorted(p["dimensions"].items())],
            Statistic=p["statistic"],
            Period=int(p["period"]),
            EvaluationPeriods=int(p["evaluation_periods"]),
            Threshold=float(p["threshold"]),
            ComparisonOperator=p["comparison"],
            AlarmActions=list(p["alarm_actions"]),
            TreatMissingData=p["treat_missing_data"],
            **extra,
        )
        return (await self._owned(ctx, p["alarm_name"]))[desired.logical_id]

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx, desired.params["alarm_name"])).get(desired.logical_id)
        if existing is not None:
            return existing
        return await self._put(ctx, desired, tags=True)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        return await self._put(ctx, desired, tags=False)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        cw = await ctx.client("cloudwatch")
        await ignore_not_found(cw.delete_alarms(AlarmNames=[observed.physical_id]))
