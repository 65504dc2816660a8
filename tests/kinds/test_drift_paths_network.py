"""security_group's rule write paths, each triggered by a user's out-of-band change.

Revoking the all-outbound egress rule is corrected by AuthorizeSecurityGroupEgress, an
extra egress (ingress) rule by RevokeSecurityGroupEgress (Ingress), and an edited
ingress description by UpdateSecurityGroupRuleDescriptionsIngress in place (the rule is
never revoked and re-authorized, which would cut traffic for a moment).
"""

from __future__ import annotations

import asyncio
from typing import Any

from controller.engine import DesiredResource, Ref
from tests.aws import client
from tests.kinds.drift import drift_and_correct

STACK = "drift"
VPC = DesiredResource(
    "vpc",
    "main",
    {
        "cidr_block": "10.9.0.0/16",
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": {"Team": "qa", "Name": "drift-main"},
    },
)
KEY = "security_group/web"
ALL_OUTBOUND = {
    "protocol": "-1",
    "from_port": -1,
    "to_port": -1,
    "cidr": "0.0.0.0/0",
    "description": "all outbound",
}
HTTPS = {
    "protocol": "tcp",
    "from_port": 443,
    "to_port": 443,
    "cidr": "0.0.0.0/0",
    "description": "HTTPS",
}
GROUP = DesiredResource(
    "security_group",
    "web",
    {
        "vpc_id": Ref("vpc", "main"),
        "group_name": "drift-web",
        "description": "web group",
        "ingress": [HTTPS],
        "egress": [ALL_OUTBOUND],
        "tags": {"Team": "qa", "Name": "drift-web"},
    },
)


def _group(endpoint: str, group_id: str) -> dict[str, Any]:
    (group,) = client("ec2", endpoint).describe_security_groups(GroupIds=[group_id])[
        "SecurityGroups"
    ]
    return dict(group)


def _group_id(endpoint: str) -> str:
    groups = client("ec2", endpoint).describe_security_groups(GroupNames=["drift-web"])
    return str(groups["SecurityGroups"][0]["GroupId"])


def test_revoked_egress_rule_is_authorized_again(endpoint: str) -> None:
    def revoke_all_outbound(group_id: str) -> None:
        client("ec2", endpoint).revoke_security_group_egress(
            GroupId=group_id,
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        assert _group(endpoint, group_id)["IpPermissionsEgress"] == []

    fix = asyncio.run(
        drift_and_correct(endpoint, STACK, [VPC, GROUP], KEY, "egress", revoke_all_outbound)
    )
    assert fix.change.old == [] and fix.change.new == [ALL_OUTBOUND]
    assert fix.writes == ["ec2:AuthorizeSecurityGroupEgress"]
    egress = _group(endpoint, _group_id(endpoint))["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p["IpRanges"]) for p in egress] == [
        ("-1", [{"CidrIp": "0.0.0.0/0", "Description": "all outbound"}])
    ]


def test_egress_rule_added_out_of_band_is_revoked(endpoint: str) -> None:
    extra = {
        "IpProtocol": "tcp",
        "FromPort": 5432,
        "ToPort": 5432,
        "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "added by hand"}],
    }

    def add_egress(group_id: str) -> None:
        client("ec2", endpoint).authorize_security_group_egress(
            GroupId=group_id, IpPermissions=[extra]
        )

    fix = asyncio.run(drift_and_correct(endpoint, STACK, [VPC, GROUP], KEY, "egress", add_egress))
    assert fix.change.new == [ALL_OUTBOUND]
    assert {r.get("cidr") for r in fix.change.old} == {"0.0.0.0/0", "203.0.113.0/24"}
    assert fix.writes == ["ec2:RevokeSecurityGroupEgress"]
    egress = _group(endpoint, _group_id(endpoint))["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p["IpRanges"][0]["CidrIp"]) for p in egress] == [("-1", "0.0.0.0/0")]


def test_ingress_rule_added_out_of_band_is_revoked(endpoint: str) -> None:
    def open_ssh(group_id: str) -> None:
        client("ec2", endpoint).authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )

    fix = asyncio.run(drift_and_correct(endpoint, STACK, [VPC, GROUP], KEY, "ingress", open_ssh))
    assert fix.change.new == [HTTPS]
    assert {r["from_port"] for r in fix.change.old} == {22, 443}
    assert fix.writes == ["ec2:RevokeSecurityGroupIngress"]
    perms = _group(endpoint, _group_id(endpoint))["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"]) for p in perms] == [(443, 443)]


def test_ingress_description_is_restored_in_place(endpoint: str) -> None:
    ec2 = client("ec2", endpoint)
    rule_ids: list[str] = []

    def edit_description(group_id: str) -> None:
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )["SecurityGroupRules"]
        rule_ids.extend(r["SecurityGroupRuleId"] for r in rules if not r["IsEgress"])
        ec2.update_security_group_rule_descriptions_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "edited by hand"}],
                }
            ],
        )

    fix = asyncio.run(
        drift_and_correct(endpoint, STACK, [VPC, GROUP], KEY, "ingress", edit_description)
    )
    assert fix.change.old == [{**HTTPS, "description": "edited by hand"}]
    assert fix.change.new == [HTTPS]
    # The description alone is updated: no revoke and re-authorize of the rule.
    assert fix.writes == ["ec2:UpdateSecurityGroupRuleDescriptionsIngress"]
    group_id = _group_id(endpoint)
    (perm,) = _group(endpoint, group_id)["IpPermissions"]
    assert perm["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS"}]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]
    assert len(rule_ids) == 1
    assert [r["SecurityGroupRuleId"] for r in rules if not r["IsEgress"]] == rule_ids
