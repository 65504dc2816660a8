from __future__ import annotations

from controller.engine import DesiredResource, Observed, Ref
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.test_elastic_ip import EIP
from tests.kinds.test_subnet import SUBNET
from tests.kinds.test_vpc import VPC

NAT = DesiredResource(
    "nat_gateway",
    "a",
    {
        "subnet_id": Ref("subnet", "public-a"),
        "allocation_id": Ref("elastic_ip", "nat-a", "allocation_id"),
        "tags": {"Team": "qa", "Name": "contract-nat-a"},
    },
)


def _retag(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).create_tags(
        Resources=[observed.physical_id], Tags=[{"Key": "Name", "Value": "renamed"}]
    )


def test_nat_gateway_contract(endpoint: str) -> None:
    run_contract(
        endpoint, ContractCase([VPC, SUBNET, EIP, NAT], "nat_gateway/a", _retag, "tags.Name")
    )
    states = [n["State"] for n in client("ec2", endpoint).describe_nat_gateways()["NatGateways"]]
    # one gateway only (moto ignores ClientToken: the create-again step relies on the tag
    # lookup), and the contract deleted it
    assert states == ["deleted"]
