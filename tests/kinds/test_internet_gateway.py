from __future__ import annotations

from controller.engine import DesiredResource, Observed, Ref
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.test_vpc import VPC

IGW = DesiredResource(
    "internet_gateway",
    "main",
    {"vpc_id": Ref("vpc", "main"), "tags": {"Team": "qa", "Name": "contract-main"}},
)


def _detach(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).detach_internet_gateway(
        InternetGatewayId=observed.physical_id, VpcId=observed.fields["vpc_id"]
    )


def test_internet_gateway_contract(endpoint: str) -> None:
    run_contract(endpoint, ContractCase([VPC, IGW], "internet_gateway/main", _detach, "vpc_id"))
    # delete detaches first: nothing is left, attached or not
    assert client("ec2", endpoint).describe_internet_gateways()["InternetGateways"] == []
