from __future__ import annotations

from typing import Any

from controller.engine import DesiredResource, Observed, Ref
from tests.aws import client
from tests.kinds.contract import ContractCase, run_contract
from tests.kinds.test_vpc import VPC


def _group(role: str, ingress: list[dict[str, Any]]) -> DesiredResource:
    return DesiredResource(
        "security_group",
        role,
        {
            "vpc_id": Ref("vpc", "main"),
            "group_name": f"contract-{role}",
            "description": f"{role} group",
            "ingress": ingress,
            "egress": [
                {
                    "protocol": "-1",
                    "from_port": -1,
                    "to_port": -1,
                    "cidr": "0.0.0.0/0",
                    "description": "all outbound",
                }
            ],
            "tags": {"Team": "qa", "Name": f"contract-{role}"},
        },
    )


ALB = _group(
    "alb",
    [
        {
            "protocol": "tcp",
            "from_port": 443,
            "to_port": 443,
            "cidr": "0.0.0.0/0",
            "description": "HTTPS",
        }
    ],
)
TASKS = _group(
    "tasks",
    [
        {
            "protocol": "tcp",
            "from_port": 8000,
            "to_port": 8001,
            "source_group": Ref("security_group", "alb"),
            "description": "from ALB",
        },
        {
            "protocol": "tcp",
            "from_port": 8000,
            "to_port": 8001,
            "source_group": "self",
            "description": "",
        },
        {"protocol": "udp", "from_port": 53, "to_port": 53, "cidr": "10.9.0.0/16"},
    ],
)


def _revoke_self_rule(endpoint: str, observed: Observed) -> None:
    client("ec2", endpoint).revoke_security_group_ingress(
        GroupId=observed.physical_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8000,
                "ToPort": 8001,
                "UserIdGroupPairs": [{"GroupId": observed.physical_id}],
            }
        ],
    )


def test_security_group_contract(endpoint: str) -> None:
    run_contract(
        endpoint,
        ContractCase([VPC, ALB, TASKS], "security_group/tasks", _revoke_self_rule, "ingress"),
    )
    names = {
        g["GroupName"] for g in client("ec2", endpoint).describe_security_groups()["SecurityGroups"]
    }
    assert "contract-tasks" not in names and "contract-alb" in names
