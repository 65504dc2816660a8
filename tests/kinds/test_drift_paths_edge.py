"""Data and edge kinds' write paths, each triggered the way a user's change would.

listener_rule: priority changed by hand -> SetRulePriorities.
load_balancer: moved to another subnet -> SetSubnets; security groups swapped -> SetSecurityGroups.
db_subnet_group: subnets changed in the spec -> ModifyDBSubnetGroup (request checked).
frontend_bucket: removed from the stack while it holds objects -> every version deleted
(DeleteObjects with version ids), then the bucket.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from controller.aws import AwsClients, classify
from controller.engine import (
    ActionType,
    DesiredResource,
    KindContext,
    PlanOptions,
    Ref,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds
from stackop_testing.faults import xml_response
from tests.aws import client
from tests.kinds.drift import drift_and_correct
from tests.kinds.test_data_edge_kinds import DESIRED, STACK, closure


def _spare_subnet(endpoint: str, vpc_subnet_id: str, cidr: str) -> str:
    """An extra (untagged) subnet in the same VPC and zone as `vpc_subnet_id`."""
    ec2 = client("ec2", endpoint)
    (subnet,) = ec2.describe_subnets(SubnetIds=[vpc_subnet_id])["Subnets"]
    return str(
        ec2.create_subnet(
            VpcId=subnet["VpcId"], CidrBlock=cidr, AvailabilityZone=subnet["AvailabilityZone"]
        )["Subnet"]["SubnetId"]
    )


def test_rule_priority_changed_by_hand_is_set_back(endpoint: str) -> None:
    def reprioritise(arn: str) -> None:
        client("elbv2", endpoint).set_rule_priorities(
            RulePriorities=[{"RuleArn": arn, "Priority": 4321}]
        )

    fix = asyncio.run(
        drift_and_correct(
            endpoint,
            STACK,
            closure("listener_rule/order"),
            "listener_rule/order",
            "priority",
            reprioritise,
        )
    )
    assert fix.change.new == DESIRED["listener_rule/order"].params["priority"]
    assert fix.writes == ["elbv2:SetRulePriorities"]


def test_load_balancer_moved_to_another_subnet_is_moved_back(endpoint: str) -> None:
    def move(arn: str) -> None:
        elb = client("elbv2", endpoint)
        (lb,) = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        first, second = (az["SubnetId"] for az in lb["AvailabilityZones"])
        elb.set_subnets(
            LoadBalancerArn=arn, Subnets=[_spare_subnet(endpoint, first, "10.0.90.0/24"), second]
        )

    fix = asyncio.run(
        drift_and_correct(
            endpoint, STACK, closure("load_balancer/main"), "load_balancer/main", "subnet_ids", move
        )
    )
    assert fix.writes == ["elbv2:SetSubnets"]


def test_load_balancer_security_groups_swapped_are_put_back(endpoint: str) -> None:
    def swap(arn: str) -> None:
        elb, ec2 = client("elbv2", endpoint), client("ec2", endpoint)
        (lb,) = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
        default = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [lb["VpcId"]]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"][0]["GroupId"]
        elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=[default])

    fix = asyncio.run(
        drift_and_correct(
            endpoint,
            STACK,
            closure("load_balancer/main"),
            "load_balancer/main",
            "security_group_ids",
            swap,
        )
    )
    assert fix.writes == ["elbv2:SetSecurityGroups"]


def test_db_subnet_group_subnets_changed_in_the_spec_are_modified(endpoint: str) -> None:
    """moto cannot show this path: after ModifyDBSubnetGroup it drops the group's tags and
    the group vanishes from DescribeDBSubnetGroups (AWS keeps both). So the change comes
    from the spec, and the test checks the request we send, answered as AWS would."""
    sent = asyncio.run(_modify_subnet_group(endpoint))
    assert sent["Action"] == ["ModifyDBSubnetGroup"]
    assert sent["DBSubnetGroupName"] == [DESIRED["db_subnet_group/main"].params["name"]]
    assert len([k for k in sent if k.startswith("SubnetIds.")]) == 2
    assert "subnet-spare" not in str(sent)  # only our resolved subnet ids


async def _modify_subnet_group(endpoint: str) -> dict[str, list[str]]:
    base = closure("db_subnet_group/main")
    group = DESIRED["db_subnet_group/main"]
    kinds = {n: k for n, k in all_kinds().items() if n in {d.kind for d in base}}
    options = PlanOptions(guard_deletions=False)
    sent: dict[str, list[str]] = {}
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(STACK, "v1", clients, {"Team": "qa"})
        done = await reconcile_stack(kinds, ctx, base, options, write=True, classify=classify)
        assert done.converged, done.execution
        # The spec now puts the group in one data subnet and a public one.
        moved = DesiredResource(
            group.kind,
            group.logical_id,
            {**group.params, "subnet_ids": [Ref("subnet", "data-a"), Ref("subnet", "public-a")]},
        )
        assert "subnet/public-a" not in {d.key for d in base}
        desired = [moved if d.key == group.key else d for d in base] + [DESIRED["subnet/public-a"]]
        plan = await plan_stack(kinds, ctx, desired, options)
        (action,) = [a for a in plan.actions if a.key == group.key]
        assert action.type is ActionType.UPDATE and action.delta.changed("subnet_ids")
        assert action.observed is not None
        arn = action.observed.outputs["arn"]
        rds = await clients.client("rds")

        def answer(request: Any, **_: Any) -> Any:
            sent.update(
                parse_qs(
                    request.body.decode() if isinstance(request.body, bytes) else str(request.body)
                )
            )
            subnets = "".join(
                f"<Subnet><SubnetIdentifier>{v[0]}</SubnetIdentifier></Subnet>"
                for k, v in sorted(sent.items())
                if k.startswith("SubnetIds.")
            )
            return xml_response(
                request.url,
                (
                    "<ModifyDBSubnetGroupResponse><ModifyDBSubnetGroupResult><DBSubnetGroup>"
                    f"<DBSubnetGroupName>{sent['DBSubnetGroupName'][0]}</DBSubnetGroupName>"
                    f"<DBSubnetGroupDescription>{sent['DBSubnetGroupDescription'][0]}"
                    "</DBSubnetGroupDescription><SubnetGroupStatus>Complete</SubnetGroupStatus>"
                    f"<Subnets>{subnets}</Subnets>"
                    f"<DBSubnetGroupArn>{arn}</DBSubnetGroupArn>"
                    "</DBSubnetGroup></ModifyDBSubnetGroupResult>"
                    "<ResponseMetadata><RequestId>canned</RequestId></ResponseMetadata>"
                    "</ModifyDBSubnetGroupResponse>"
                ),
            )

        rds.meta.events.register("before-send.rds.ModifyDBSubnetGroup", answer)
        done = await reconcile_stack(kinds, ctx, desired, options, write=True, classify=classify)
        assert done.execution is not None and done.execution.ok, done.execution
    return sent


async def _converge_then_remove(endpoint: str, fill: object) -> list[str]:
    bucket = DESIRED["frontend_bucket/main"]
    kinds = {"frontend_bucket": all_kinds()["frontend_bucket"]}
    options = PlanOptions(guard_deletions=False)
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(STACK, "v1", clients, {"Team": "qa"})
        created = await reconcile_stack(
            kinds, ctx, [bucket], options, write=True, classify=classify
        )
        assert created.converged, created.execution
        assert callable(fill)
        fill(str(bucket.params["name"]))
        mark = clients.recorder.mark()
        gone = await reconcile_stack(kinds, ctx, [], options, write=True, classify=classify)
        assert gone.converged, gone.execution
        return [f"{c.service}:{c.operation}" for c in clients.recorder.writes(mark)]


def test_removed_frontend_bucket_is_emptied_of_every_version_then_deleted(endpoint: str) -> None:
    s3 = client("s3", endpoint)

    def fill(name: str) -> None:  # a deployed frontend: two versions of a page, one deleted
        s3.put_object(Bucket=name, Key="index.html", Body=b"v1")
        s3.put_object(Bucket=name, Key="index.html", Body=b"v2")
        s3.put_object(Bucket=name, Key="old.js", Body=b"x")
        s3.delete_object(Bucket=name, Key="old.js")

    writes = asyncio.run(_converge_then_remove(endpoint, fill))
    assert writes == ["s3:DeleteObjects", "s3:DeleteBucket"]
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert str(DESIRED["frontend_bucket/main"].params["name"]) not in names
