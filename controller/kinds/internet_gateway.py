"""Internet gateway; its attachment to a VPC is its `vpc_id` field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.ec2_common import (
    by_logical_id,
    describe_owned,
    ignore_codes,
    logical_id_filter,
    owned_item,
    sync_tags,
    tag_spec,
)
from controller.kinds.tags_common import ignore_not_found, live_tags, params_by_id, tag_map

ATTACHED = frozenset({"attaching", "attached", "available"})
NOT_ATTACHED = "Gateway.NotAttached"


def attached_vpc(igw: Mapping[str, Any]) -> str | None:
    for attachment in igw.get("Attachments") or ():
        if attachment.get("State") in ATTACHED:
            return str(attachment["VpcId"])
    return None


class InternetGateway(Kind):
    name = "internet_gateway"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeInternetGateways",
        "ec2:CreateInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:CreateTags",
        "ec2:DeleteInternetGateway",
    )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        items = await describe_owned(ctx, "describe_internet_gateways", "InternetGateways")
        return {
            lid: self._observed(ctx, lid, igw, wanted.get(lid))
            for lid, igw in by_logical_id(ctx, items).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        igw: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        igw_id = igw["InternetGatewayId"]
        current = tag_map(igw.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=igw_id,
            fields={
                "vpc_id": attached_vpc(igw),
                "tags": live_tags(ctx, self.name, logical_id, current, params),
            },
            outputs={"id": igw_id},
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await describe_owned(
            ctx,
            "describe_internet_gateways",
            "InternetGateways",
            [logical_id_filter(self.name, desired.logical_id)],
        )
        ec2 = await ctx.client("ec2")
        igw = owned_item(ctx, self.name, desired.logical_id, existing)
        if igw is None:
            igw = (
                await ec2.create_internet_gateway(
                    TagSpecifications=tag_spec(
                        ctx, self.name, desired.logical_id, "internet-gateway", desired.params
                    )
                )
            )["InternetGateway"]
        observed = self._observed(ctx, desired.logical_id, igw, desired.params)
        if observed.fields["vpc_id"] != desired.params.get("vpc_id"):
            return await self.update(ctx, desired, observed, Delta())
        return observed

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ec2 = await ctx.client("ec2")
        igw_id = observed.physical_id
        current, wanted = observed.fields.get("vpc_id"), desired.params.get("vpc_id")
        if current != wanted:
            if current:
                await ignore_codes(
                    ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=current),
                    NOT_ATTACHED,
                )
            if wanted:
                await ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=wanted)
        if delta.changed("tags"):
            await sync_tags(ctx, igw_id, self.name, desired.logical_id, desired.params)
        (igw,) = (await ec2.describe_internet_gateways(InternetGatewayIds=[igw_id]))[
            "InternetGateways"
        ]
        return self._observed(ctx, desired.logical_id, igw, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        # AWS refuses to detach while public addresses in the VPC are mapped
        # (DependencyViolation): the engine retries once the NAT gateway is gone.
        ec2 = await ctx.client("ec2")
        igw_id = observed.physical_id
        vpc_id = observed.fields.get("vpc_id")
        if vpc_id:
            await ignore_codes(
                ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id), NOT_ATTACHED
            )
        await ignore_not_found(ec2.delete_internet_gateway(InternetGatewayId=igw_id))
