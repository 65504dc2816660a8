"""Elastic IP address in the VPC domain (for NAT gateways)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code
from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Retryable
from controller.kinds.ec2_common import (
    by_logical_id,
    describe_owned,
    logical_id_filter,
    owned_item,
    sync_tags,
    tag_spec,
)
from controller.kinds.tags_common import ignore_not_found, live_tags, params_by_id, tag_map

IN_USE = "InvalidIPAddress.InUse"


class ElasticIp(Kind):
    name = "elastic_ip"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeAddresses",
        "ec2:AllocateAddress",
        "ec2:CreateTags",
        "ec2:ReleaseAddress",
    )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        # DescribeAddresses is not paginated: one call returns every owned address.
        items = await describe_owned(ctx, "describe_addresses", "Addresses")
        return {
            lid: self._observed(ctx, lid, address, wanted.get(lid))
            for lid, address in by_logical_id(ctx, items).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        address: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        allocation_id = address["AllocationId"]
        current = tag_map(address.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=allocation_id,
            fields={"tags": live_tags(ctx, self.name, logical_id, current, params)},
            outputs={
                "id": allocation_id,
                "allocation_id": allocation_id,
                "public_ip": address.get("PublicIp", ""),
            },
        )

    async def _find(self, ctx: KindContext, logical_id: str) -> list[dict[str, Any]]:
        return await describe_owned(
            ctx, "describe_addresses", "Addresses", [logical_id_filter(self.name, logical_id)]
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await self._find(ctx, desired.logical_id)
        address = owned_item(ctx, self.name, desired.logical_id, existing)
        if address is None:
            ec2 = await ctx.client("ec2")
            address = await ec2.allocate_address(
                Domain="vpc",
                TagSpecifications=tag_spec(
                    ctx, self.name, desired.logical_id, "elastic-ip", desired.params
                ),
            )
        return self._observed(ctx, desired.logical_id, address, desired.params)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        if delta.changed("tags"):
            await sync_tags(
                ctx, observed.physical_id, self.name, desired.logical_id, desired.params
            )
        ec2 = await ctx.client("ec2")
        (address,) = (await ec2.describe_addresses(AllocationIds=[observed.physical_id]))[
            "Addresses"
        ]
        return self._observed(ctx, desired.logical_id, address, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ec2 = await ctx.client("ec2")
        try:
            await ignore_not_found(ec2.release_address(AllocationId=observed.physical_id))
        except Exception as exc:
            # AWS keeps the address in use while a NAT gateway using it is still deleting
            # (moto releases it at once).
            if error_code(exc) == IN_USE:
                raise Retryable(f"{observed.physical_id} is still in use", after=15.0) from exc
            raise
