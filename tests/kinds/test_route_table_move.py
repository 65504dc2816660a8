"""A subnet associated with someone else's route table is moved to ours.

moto lets a subnet be associated with two route tables, so it never answers
`Resource.AlreadyAssociated` as AWS does. This test injects AWS's answer to our
AssociateRouteTable with a botocore `before-send` hook, then checks what the kind does
next, against moto: find the subnet's current association and replace it with ours.
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller.aws import AwsClients, classify
from controller.engine import DesiredResource, KindContext, PlanOptions, reconcile_stack
from controller.kinds import all_kinds
from stackop_testing.faults import error_response
from tests.aws import client
from tests.kinds.test_route_table import TABLE
from tests.kinds.test_subnet import SUBNET
from tests.kinds.test_vpc import VPC

OUR_TABLE = DesiredResource(
    TABLE.kind,
    TABLE.logical_id,
    {**TABLE.params, "routes": [], "subnet_ids": [TABLE.params["subnet_ids"][1]]},
)


async def _apply(endpoint: str, desired: list[DesiredResource], already: bool) -> list[str]:
    """Converge `desired`; with `already`, AWS's answer to AssociateRouteTable is injected."""
    kinds = {n: k for n, k in all_kinds().items() if n in {d.kind for d in desired}}
    sent: list[str] = []
    async with AwsClients(endpoint_url=endpoint) as clients:
        ec2 = await clients.client("ec2")

        def hook(request: Any, event_name: str, **_: Any) -> Any:
            operation = event_name.rsplit(".", 1)[-1]
            sent.append(operation)
            if already and operation == "AssociateRouteTable":
                return error_response(
                    "ec2",
                    request.url,
                    400,
                    "Resource.AlreadyAssociated",
                    "the specified subnet is already associated with another route table",
                )
            return None

        ec2.meta.events.register("before-send.ec2.*", hook)
        ctx = KindContext("contract", "v1", clients, {"Team": "qa"})
        result = await reconcile_stack(
            kinds, ctx, desired, PlanOptions(), write=True, classify=classify
        )
        assert result.execution is not None and result.execution.converged, result.execution
    return sent


def test_subnet_associated_elsewhere_is_moved_to_our_table(endpoint: str) -> None:
    ec2 = client("ec2", endpoint)
    asyncio.run(_apply(endpoint, [VPC, SUBNET], already=False))
    (subnet,) = ec2.describe_subnets(
        Filters=[{"Name": "tag:stackop:logical-id", "Values": ["subnet/public-a"]}]
    )["Subnets"]
    theirs = ec2.create_route_table(VpcId=subnet["VpcId"])["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=theirs, SubnetId=subnet["SubnetId"])

    sent = asyncio.run(_apply(endpoint, [VPC, SUBNET, OUR_TABLE], already=True))

    assert sent.index("AssociateRouteTable") < sent.index("ReplaceRouteTableAssociation")
    (ours,) = ec2.describe_route_tables(
        Filters=[{"Name": "tag:stackop:logical-id", "Values": ["route_table/public"]}]
    )["RouteTables"]
    holding = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in holding] == [ours["RouteTableId"]]
    # Their table itself is left alone: only our subnet's association moved.
    (left,) = ec2.describe_route_tables(RouteTableIds=[theirs])["RouteTables"]
    assert left.get("Tags", []) == []
