from __future__ import annotations

from controller.engine import DesiredResource, Observed
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract

VPC = DesiredResource(
    "vpc",
    "main",
    {
        "cidr_block": "10.9.0.0/16",
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": {"Team": "qa", "Name": "contract-main"},
    },
)


def _dns_off(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).modify_vpc_attribute(
        VpcId=observed.physical_id, EnableDnsHostnames={"Value": False}
    )


def test_vpc_contract(endpoint: str) -> None:
    run_contract(endpoint, ContractCase([VPC], "vpc/main", _dns_off, "enable_dns_hostnames"))
