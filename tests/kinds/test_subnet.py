from __future__ import annotations

from controller.engine import DesiredResource, Observed, Ref
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.test_vpc import VPC

SUBNET = DesiredResource(
    "subnet",
    "public-a",
    {
        "vpc_id": Ref("vpc", "main"),
        "cidr_block": "10.9.1.0/24",
        "availability_zone": "us-east-1a",
        "map_public_ip_on_launch": True,
        "tags": {"Team": "qa", "Name": "contract-public-a"},
    },
)


def _public_ip_off(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).modify_subnet_attribute(
        SubnetId=observed.physical_id, MapPublicIpOnLaunch={"Value": False}
    )


def test_subnet_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase([VPC, SUBNET], "subnet/public-a", _public_ip_off, "map_public_ip_on_launch"),
    )
    ec2 = client("ec2", endpoint)
    assert not [s for s in ec2.describe_subnets()["Subnets"] if s["CidrBlock"] == "10.9.1.0/24"], (
        "the contract deletes the subnet"
    )
