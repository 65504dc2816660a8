from __future__ import annotations

from controller.engine import DesiredResource, Observed, Ref
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.test_internet_gateway import IGW
from tests.kinds.test_subnet import SUBNET
from tests.kinds.test_vpc import VPC

SUBNET_B = DesiredResource(
    "subnet",
    "public-b",
    {
        **SUBNET.params,
        "cidr_block": "10.9.2.0/24",
        "availability_zone": "us-east-1b",
        "tags": {"Team": "qa", "Name": "contract-public-b"},
    },
)
TABLE = DesiredResource(
    "route_table",
    "public",
    {
        "vpc_id": Ref("vpc", "main"),
        "routes": [{"destination": "0.0.0.0/0", "gateway_id": Ref("internet_gateway", "main")}],
        "subnet_ids": [Ref("subnet", "public-b"), Ref("subnet", "public-a")],
        "tags": {"Team": "qa", "Name": "contract-public"},
    },
)
DEPS = [VPC, IGW, SUBNET, SUBNET_B]


def _delete_route(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).delete_route(
        RouteTableId=observed.physical_id, DestinationCidrBlock="0.0.0.0/0"
    )


def _disassociate(endpoint: str, observed: Observed) -> None:
    ec2 = client("ec2", endpoint)
    (table,) = ec2.describe_route_tables(RouteTableIds=[observed.physical_id])["RouteTables"]
    for assoc in table["Associations"]:
        ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])


def test_route_table_contract_routes(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([*DEPS, TABLE], "route_table/public", _delete_route, "routes")
    )
    _only_main_tables_left(endpoint)


def test_route_table_contract_associations(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([*DEPS, TABLE], "route_table/public", _disassociate, "subnet_ids")
    )
    _only_main_tables_left(endpoint)


def _only_main_tables_left(endpoint: str) -> None:
    tables = client("ec2", endpoint).describe_route_tables()["RouteTables"]
    assert tables and all(any(a.get("Main") for a in t["Associations"]) for t in tables), (
        "deleting our table left the VPCs' main tables alone and removed ours"
    )
