"""Route table with its routes and subnet associations (never the VPC's main table).

`routes` is a list of `{destination, <target>: id}` with target `gateway_id` or
`nat_gateway_id` (others are shown when found live); the implicit `local` route and
propagated routes are not ours and never appear. `subnet_ids` are the explicit
associations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code
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

TARGETS = {
    "gateway_id": "GatewayId",
    "nat_gateway_id": "NatGatewayId",
    "transit_gateway_id": "TransitGatewayId",
    "vpc_peering_connection_id": "VpcPeeringConnectionId",
    "network_interface_id": "NetworkInterfaceId",
    "instance_id": "InstanceId",
    "egress_only_internet_gateway_id": "EgressOnlyInternetGatewayId",
    "carrier_gateway_id": "CarrierGatewayId",
    "local_gateway_id": "LocalGatewayId",
    "core_network_arn": "CoreNetworkArn",
}
NOT_OURS_ORIGINS = frozenset({"CreateRouteTable", "EnableVgwRoutePropagation"})


def _destination(route: Mapping[str, Any]) -> str | None:
    for key in ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"):
        if route.get(key):
            return str(route[key])
    return None


def live_routes(table: Mapping[str, Any]) -> list[dict[str, str]]:
    """The table's routes in the desired shape, without `local` and propagated routes."""
    routes = []
    for route in table.get("Routes") or ():
        destination = _destination(route)
        if (
            destination is None
            or route.get("GatewayId") == "local"
            or route.get("Origin") in NOT_OURS_ORIGINS
        ):
            continue
        target = {k: str(route[api]) for k, api in TARGETS.items() if route.get(api)}
        if "instance_id" in target and "network_interface_id" in target:
            target.pop("network_interface_id")  # AWS reports both for an instance route
        routes.append({"destination": destination, **target})
    return routes


def destination_arg(destination: str) -> dict[str, str]:
    if destination.startswith("pl-"):
        return {"DestinationPrefixListId": destination}
    if ":" in destination:
        return {"DestinationIpv6CidrBlock": destination}
    return {"DestinationCidrBlock": destination}


def target_args(route: Mapping[str, Any]) -> dict[str, str]:
    return {api: str(route[k]) for k, api in TARGETS.items() if route.get(k)}


def associations(table: Mapping[str, Any]) -> dict[str, str]:
    """Explicit subnet associations: subnet id -> association id."""
    return {
        a["SubnetId"]: a["RouteTableAssociationId"]
        for a in table.get("Associations") or ()
        if a.get("SubnetId")
        and not a.get("Main")
        and (a.get("AssociationState") or {}).get("State", "associated") == "associated"
    }


def is_main(table: Mapping[str, Any]) -> bool:
    return any(a.get("Main") for a in table.get("Associations") or ())


class RouteTable(Kind):
    name = "route_table"
    service = "ec2"
    iam_actions = (
        "ec2:DescribeRouteTables",
        "ec2:CreateRouteTable",
        "ec2:CreateRoute",
        "ec2:ReplaceRoute",
        "ec2:DeleteRoute",
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation",
        "ec2:CreateTags",
        "ec2:DeleteRouteTable",
    )
    replace_fields = frozenset({"vpc_id"})
    unordered_fields = frozenset({"routes", "subnet_ids"})

    async def _describe(self, ctx: KindContext, logical_id: str | None = None) -> list[Any]:
        extra = [logical_id_filter(self.name, logical_id)] if logical_id else None
        tables = await describe_owned(ctx, "describe_route_tables", "RouteTables", extra)
        return [t for t in tables if not is_main(t)]  # a main table is never ours

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        wanted = params_by_id(desired)
        owned = by_logical_id(ctx, await self._describe(ctx))
        return {lid: self._observed(ctx, lid, t, wanted.get(lid)) for lid, t in owned.items()}

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        table: Mapping[str, Any],
        params: Mapping[str, Any] | None,
    ) -> Observed:
        table_id = table["RouteTableId"]
        assoc = associations(table)
        current = tag_map(table.get("Tags"))
        return Observed(
            logical_id=logical_id,
            physical_id=table_id,
            fields={
                "vpc_id": table["VpcId"],
                "routes": live_routes(table),
                "subnet_ids": sorted(assoc),
                "tags": live_tags(ctx, self.name, logical_id, current, params),
            },
            outputs={"id": table_id},
            private={"associations": assoc},
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = await self._describe(ctx, desired.logical_id)
        table = owned_item(ctx, self.name, desired.logical_id, existing)
        if table is None:
            ec2 = await ctx.client("ec2")
            table = (
                await ec2.create_route_table(
                    VpcId=desired.params["vpc_id"],
                    TagSpecifications=tag_spec(
                        ctx, self.name, desired.logical_id, "route-table", desired.params
                    ),
                )
            )["RouteTable"]
        observed = self._observed(ctx, desired.logical_id, table, desired.params)
        return await self.update(ctx, desired, observed, Delta())

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        """Converge routes and associations from what was observed; tags when they differ."""
        ec2 = await ctx.client("ec2")
        table_id = observed.physical_id
        await self._sync_routes(ec2, table_id, desired.params.get("routes") or [], observed)
        await self._sync_associations(
            ec2, table_id, desired.params.get("subnet_ids") or [], observed
        )
        if delta.changed("tags"):
            await sync_tags(ctx, table_id, self.name, desired.logical_id, desired.params)
        (table,) = (await ec2.describe_route_tables(RouteTableIds=[table_id]))["RouteTables"]
        return self._observed(ctx, desired.logical_id, table, desired.params)

    @staticmethod
    async def _sync_routes(
        ec2: Any, table_id: str, wanted: Iterable[Mapping[str, Any]], observed: Observed
    ) -> None:
        want = {str(r["destination"]): dict(r) for r in wanted}
        have = {r["destination"]: r for r in observed.fields.get("routes") or []}
        for destination, route in sorted(want.items()):
            args = {"RouteTableId": table_id, **destination_arg(destination)}
            if destination not in have:
                await ec2.create_route(**args, **target_args(route))
            elif have[destination] != route:
                await ec2.replace_route(**args, **target_args(route))
        for destination in sorted(set(have) - set(want)):
            await ignore_not_found(
                ec2.delete_route(RouteTableId=table_id, **destination_arg(destination))
            )

    async def _sync_associations(
        self, ec2: Any, table_id: str, wanted: Iterable[str], observed: Observed
    ) -> None:
        have: dict[str, str] = observed.private.get("associations", {})
        want = set(wanted)
        await asyncio.gather(
            *(self._associate(ec2, table_id, s) for s in sorted(want - set(have))),
            *(
                ignore_not_found(ec2.disassociate_route_table(AssociationId=have[s]))
                for s in sorted(set(have) - want)
            ),
        )

    @staticmethod
    async def _associate(ec2: Any, table_id: str, subnet_id: str) -> None:
        try:
            await ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        except Exception as exc:
            # AWS: the subnet is explicitly associated with another table; move it here.
            # (moto lets a subnet be associated with two tables, so it never says this.)
            if error_code(exc) != "Resource.AlreadyAssociated":
                raise
            found = await ec2.describe_route_tables(
                Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
            )
            current = [
                a["RouteTableAssociationId"]
                for t in found["RouteTables"]
                for a in t.get("Associations") or ()
                if a.get("SubnetId") == subnet_id
            ]
            if not current:
                raise
            await ec2.replace_route_table_association(
                AssociationId=current[0], RouteTableId=table_id
            )

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ec2 = await ctx.client("ec2")
        assoc: dict[str, str] = observed.private.get("associations", {})
        await asyncio.gather(
            *(
                ignore_not_found(ec2.disassociate_route_table(AssociationId=a))
                for a in assoc.values()
            )
        )
        await ignore_not_found(ec2.delete_route_table(RouteTableId=observed.physical_id))
