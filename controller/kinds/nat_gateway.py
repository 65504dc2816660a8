"""Public NAT gateway in a subnet, with an Elastic IP; ready once `available`."""

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

GONE = frozenset({"deleted", "deleting", "failed"})
"""States of gateways that no longer count: a replacement may be created beside them."""


def allocation_of(nat: Mapping[str, Any]) -> str | None:
    for address in nat.get("NatGatewayAddresses") or ():
        if address.get("AllocationId"):
            return str(address["AllocationId"])
    return None


class NatGateway(Kind):
    name = "nat_gateway"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeNatGateways",
        "ec2:CreateNatGateway",
        "ec2:CreateTags",
        "ec2:DeleteNatGateway",
    )
    replace_fields = frozenset({"subnet_id", "allocation_id"})

    async def _describe(
        self, ctx: KindContext, extra: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        return await describe_owned(
            ctx, "describe_nat_gateways", "NatGateways", extra, filter_param="Filter"
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        live = [n for n in await self._describe(ctx) if n.get("State") not in GONE]
        return {
            lid: self._observed(ctx, lid, nat, wanted.get(lid))
            for lid, nat in by_logical_id(ctx, live).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        nat: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        nat_id = nat["NatGatewayId"]
        state = str(nat.get("State", ""))
        current = tag_map(nat.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=nat_id,
            fields={
                "subnet_id": nat.get("SubnetId"),
                "allocation_id": allocation_of(nat),
                "tags": live_tags(ctx, self.name, logical_id, current, params),
            },
            outputs={"id": nat_id},
            ready=state == "available",
            status=state,
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        # moto ignores ClientToken (AWS honours it): always look up by tag first.
        found = [
            n
            for n in await self._describe(ctx, [logical_id_filter(self.name, desired.logical_id)])
            if owned_item(ctx, self.name, desired.logical_id, [n]) is not None
        ]
        alive = owned_item(
            ctx, self.name, desired.logical_id, (n for n in found if n.get("State") not in GONE)
        )
        if alive is not None:
            return self._observed(ctx, desired.logical_id, alive, desired.params)
        # AWS answers a reused token with the gateway it made for it, even a failed one:
        # after failures, derive a fresh token so a new attempt is really made.
        failed = sum(1 for n in found if n.get("State") == "failed")
        token_id = desired.logical_id if not failed else f"{desired.logical_id}~{failed}"
        ec2 = await ctx.client("ec2")
        nat = (
            await ec2.create_nat_gateway(
                SubnetId=desired.params["subnet_id"],
                AllocationId=desired.params["allocation_id"],
                ClientToken=ctx.token(self.name, token_id),
                TagSpecifications=tag_spec(
                    ctx, self.name, desired.logical_id, "natgateway", desired.params
                ),
            )
        )["NatGateway"]
        return self._observed(ctx, desired.logical_id, nat, desired.params)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        if delta.changed("tags"):
            await sync_tags(
                ctx, observed.physical_id, self.name, desired.logical_id, desired.params
            )
        ec2 = await ctx.client("ec2")
        (nat,) = (await ec2.describe_nat_gateways(NatGatewayIds=[observed.physical_id]))[
            "NatGateways"
        ]
        return self._observed(ctx, desired.logical_id, nat, desired.params)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        # AWS deletes asynchronously: the Elastic IP and the subnet stay busy until the
        # gateway is `deleted`; their deletes retry (InUse / DependencyViolation).
        ec2 = await ctx.client("ec2")
        await ignore_not_found(ec2.delete_nat_gateway(NatGatewayId=observed.physical_id))
