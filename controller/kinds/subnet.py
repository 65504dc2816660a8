"""Subnet in one availability zone; public ones map public IPs on launch."""

from __future__ import annotations

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


class Subnet(Kind):
    name = "subnet"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeSubnets",
        "ec2:CreateSubnet",
        "ec2:ModifySubnetAttribute",
        "ec2:CreateTags",
        "ec2:DeleteSubnet",
    )
    replace_fields = frozenset({"vpc_id", "cidr_block", "availability_zone"})

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        owned = by_logical_id(ctx, await describe_owned(ctx, "describe_subnets", "Subnets"))
        return {
            lid: self._observed(ctx, lid, subnet, wanted.get(lid)) for lid, subnet in owned.items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        subnet: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        current = tag_map(subnet.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=subnet["SubnetId"],
            fields={
                "vpc_id": subnet["VpcId"],
                "cidr_block": subnet["CidrBlock"],
                "availability_zone": subnet["AvailabilityZone"],
                "map_public_ip_on_launch": bool(subnet.get("MapPublicIpOnLaunch", False)),
                "tags": live_tags(ctx, self.name, logical_id, current, params),
            },
            outputs={"id": subnet["SubnetId"], "cidr_block": subnet["CidrBlock"]},
            ready=subnet.get("State", "available") == "available",
            status=subnet.get("State", ""),
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        params = desired.params
        existing = await describe_owned(
            ctx, "describe_subnets", "Subnets", [logical_id_filter(self.name, desired.logical_id)]
        )
        ec2 = await ctx.client("ec2")
        subnet = owned_item(ctx, self.name, desired.logical_id, existing)
        if subnet is None:
            subnet = (
                await ec2.create_subnet(
                    VpcId=params["vpc_id"],
                    CidrBlock=params["cidr_block"],
                    AvailabilityZone=params["availability_zone"],
                    TagSpecifications=tag_spec(
                        ctx, self.name, desired.logical_id, "subnet", params
                    ),
                )
            )["Subnet"]
        want_public = bool(params.get("map_public_ip_on_launch", False))
        if bool(subnet.get("MapPublicIpOnLaunch", False)) != want_public:
            await self._set_public(ec2, subnet["SubnetId"], want_public)
            subnet["MapPublicIpOnLaunch"] = want_public
        return self._observed(ctx, desired.logical_id, subnet, params)

    @staticmethod
    async def _set_public(ec2: Any, subnet_id: str, value: bool) -> None:
        await ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": value})

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ec2 = await ctx.client("ec2")
        if delta.changed("map_public_ip_on_launch"):
            await self._set_public(
                ec2, observed.physical_id, bool(desired.params["map_public_ip_on_launch"])
            )
        if delta.changed("tags"):
            await sync_tags(
                ctx, observed.physical_id, self.name, desired.logical_id, desired.params
            )
        (subnet,) = (await ec2.describe_subnets(SubnetIds=[observed.physical_id]))["Subnets"]
        return self._observed(ctx, desired.logical_id, subnet, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        # While ENIs (a NAT gateway being deleted, tasks) remain, AWS answers
        # DependencyViolation, which the engine retries.
        ec2 = await ctx.client("ec2")
        await ignore_not_found(ec2.delete_subnet(SubnetId=observed.physical_id))
