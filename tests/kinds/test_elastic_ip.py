from __future__ import annotations

from controller.engine import DesiredResource, Observed
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract

EIP = DesiredResource("elastic_ip", "nat-a", {"tags": {"Team": "qa", "Name": "contract-nat-a"}})


def _retag(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).create_tags(
        Resources=[observed.physical_id], Tags=[{"Key": "Team", "Value": "someone-else"}]
    )


def test_elastic_ip_contract(endpoint: str) -> None:
    run_contract(endpoint, ContractCase([EIP], "elastic_ip/nat-a", _retag, "tags.Team"))
    assert client("ec2", endpoint).describe_addresses()["Addresses"] == []
