"""VPC with DNS support and hostnames."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.ec2_common import (
    by_logical_id,
    describe_owned,
    logical_id_filter,
    owned_item,
    sync_tags,
    tag_spec,
)
from controller.kinds.tags_common import ignore_not_found, live_tags, params_by_id, tag_map


class Vpc(Kind):
    name = "vpc"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",
        "ec2:CreateVpc",
        "ec2:ModifyVpcAttribute",
        "ec2:CreateTags",
        "ec2:DeleteVpc",
    )
    replace_fields = frozenset({"cidr_block"})

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        owned = by_logical_id(ctx, await describe_owned(ctx, "describe_vpcs", "Vpcs"))
        results = await asyncio.gather(
            *(self._observed(ctx, lid, vpc, wanted.get(lid)) for lid, vpc in owned.items())
        )
        return dict(zip(owned, results, strict=True))

    async def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        vpc: dict[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        ec2 = await ctx.client("ec2")
        vpc_id = vpc["VpcId"]
        support, hostnames = await asyncio.gather(
            ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport"),
            ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames"),
        )
        return Observed(
            logical_id=logical_id,
            physical_id=vpc_id,
            fields={
                "cidr_block": vpc["CidrBlock"],
                "enable_dns_support": support["EnableDnsSupport"]["Value"],
                "enable_dns_hostnames": hostnames["EnableDnsHostnames"]["Value"],
                "tags": live_tags(ctx, self.name, logical_id, tag_map(vpc.get("Tags")), params),
            },
            outputs={"id": vpc_id, "cidr_block": vpc["CidrBlock"]},
            ready=vpc.get("State", "available") == "available",
            status=vpc.get("State", ""),
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await describe_owned(
            ctx, "describe_vpcs", "Vpcs", [logical_id_filter(self.name, desired.logical_id)]
        )
        ec2 = await ctx.client("ec2")
        found = owned_item(ctx, self.name, desired.logical_id, existing)
        if found is not None:
            vpc = found
        else:
            vpc = (
                await ec2.create_vpc(
                    CidrBlock=desired.params["cidr_block"],
                    TagSpecifications=tag_spec(
                        ctx, self.name, desired.logical_id, "vpc", desired.params
                    ),
                )
            )["Vpc"]
        await self._set_dns(ec2, vpc["VpcId"], desired.params)
        return await self._observed(ctx, desired.logical_id, vpc, desired.params)

    async def _set_dns(self, ec2: Any, vpc_id: str, params: Any, only: Delta | None = None) -> None:
        # AWS takes one attribute per ModifyVpcAttribute call; support before hostnames.
        for field, attribute in (
            ("enable_dns_support", "EnableDnsSupport"),
            ("enable_dns_hostnames", "EnableDnsHostnames"),
        ):
            if only is None or only.changed(field):
                await ec2.modify_vpc_attribute(
                    VpcId=vpc_id, **{attribute: {"Value": bool(params[field])}}
                )

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ec2 = await ctx.client("ec2")
        await self._set_dns(ec2, observed.physical_id, desired.params, only=delta)
        if delta.changed("tags"):
            await sync_tags(
                ctx, observed.physical_id, self.name, desired.logical_id, desired.params
            )
        (vpc,) = (await ec2.describe_vpcs(VpcIds=[observed.physical_id]))["Vpcs"]
        return await self._observed(ctx, desired.logical_id, vpc, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ec2 = await ctx.client("ec2")
        await ignore_not_found(ec2.delete_vpc(VpcId=observed.physical_id))
