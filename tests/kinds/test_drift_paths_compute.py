"""Compute kinds' update paths, each triggered by a user's out-of-band change.

ecs_cluster: capacity providers and default strategy changed -> PutClusterCapacityProviders.
ecr_repository: tags made IMMUTABLE -> PutImageTagMutability.
log_group: retention removed ("never expire") -> PutRetentionPolicy (the spec always sets
a retention, so the kind has no DeleteRetentionPolicy path).
iam_role: a managed policy attached by hand -> DetachRolePolicy (our roles carry inline
policies only); the trust policy replaced -> UpdateAssumeRolePolicy.
"""

from __future__ import annotations

import asyncio
import json

from controller.kinds.compute_common import normalise_policy
from tests.aws import client
from tests.kinds.compute_desired import CLUSTER, LOG_GROUP, REPOSITORY, ROLE, STACK, trust
from tests.kinds.drift import drift_and_correct


def test_cluster_capacity_providers_changed_out_of_band_are_put_back(endpoint: str) -> None:
    def fargate_only(arn: str) -> None:
        client("ecs", endpoint).put_cluster_capacity_providers(
            cluster=arn,
            capacityProviders=["FARGATE"],
            defaultCapacityProviderStrategy=[
                {"capacityProvider": "FARGATE", "weight": 2, "base": 0}
            ],
        )

    fix = asyncio.run(
        drift_and_correct(
            endpoint, STACK, [CLUSTER], "ecs_cluster/main", "default_strategy", fargate_only
        )
    )
    assert fix.change.old == [{"capacity_provider": "FARGATE", "weight": 2, "base": 0}]
    # default_strategy is an unordered field: the plan shows it in a canonical order.
    assert sorted(fix.change.new, key=str) == sorted(CLUSTER.params["default_strategy"], key=str)
    # One call restores both the providers and the strategy.
    assert fix.writes == ["ecs:PutClusterCapacityProviders"]
    (cluster,) = client("ecs", endpoint).describe_clusters(clusters=[STACK])["clusters"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert sorted(
        (s["capacityProvider"], s["weight"], s["base"])
        for s in cluster["defaultCapacityProviderStrategy"]
    ) == [("FARGATE", 1, 1), ("FARGATE_SPOT", 4, 0)]


def test_repository_made_immutable_out_of_band_is_mutable_again(endpoint: str) -> None:
    name = REPOSITORY.params["name"]

    def immutable(_arn: str) -> None:
        client("ecr", endpoint).put_image_tag_mutability(
            repositoryName=name, imageTagMutability="IMMUTABLE"
        )

    fix = asyncio.run(
        drift_and_correct(
            endpoint,
            STACK,
            [REPOSITORY],
            "ecr_repository/web",
            "image_tag_mutability",
            immutable,
        )
    )
    assert (fix.change.old, fix.change.new) == ("IMMUTABLE", "MUTABLE")
    assert fix.writes == ["ecr:PutImageTagMutability"]
    (repo,) = client("ecr", endpoint).describe_repositories(repositoryNames=[name])["repositories"]
    assert repo["imageTagMutability"] == "MUTABLE"


def test_log_retention_removed_out_of_band_is_set_again(endpoint: str) -> None:
    logs = client("logs", endpoint)

    def never_expire(name: str) -> None:
        logs.delete_retention_policy(logGroupName=name)

    fix = asyncio.run(
        drift_and_correct(
            endpoint, STACK, [LOG_GROUP], "log_group/web", "retention_days", never_expire
        )
    )
    assert (fix.change.old, fix.change.new) == (None, 7)
    assert fix.writes == ["logs:PutRetentionPolicy"]
    (group,) = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP.params["name"])["logGroups"]
    assert group["retentionInDays"] == 7


def test_managed_policy_attached_out_of_band_is_detached(endpoint: str) -> None:
    iam = client("iam", endpoint)
    # moto knows no AWS managed policies unless MOTO_IAM_LOAD_MANAGED_POLICIES: a
    # customer managed policy stands in for one.
    arn = iam.create_policy(
        PolicyName="AdministratorAccess",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]

    def attach(role: str) -> None:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)

    fix = asyncio.run(
        drift_and_correct(
            endpoint, STACK, [ROLE], "iam_role/web-execution", "managed_policies", attach
        )
    )
    assert (fix.change.old, fix.change.new) == ([arn], [])
    assert fix.writes == ["iam:DetachRolePolicy"]
    role = ROLE.params["name"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    # Only the attachment goes: the policy itself is not the stack's to delete.
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0


def test_trust_policy_replaced_out_of_band_is_restored(endpoint: str) -> None:
    iam = client("iam", endpoint)
    wide = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }

    def replace_trust(role: str) -> None:
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(wide))

    fix = asyncio.run(
        drift_and_correct(
            endpoint,
            STACK,
            [ROLE],
            "iam_role/web-execution",
            "assume_role_policy.Statement",
            replace_trust,
        )
    )
    assert fix.change.old == normalise_policy(wide)["Statement"]
    assert fix.change.new == normalise_policy(trust())["Statement"]
    assert fix.writes == ["iam:UpdateAssumeRolePolicy"]
    live = iam.get_role(RoleName=ROLE.params["name"])["Role"]["AssumeRolePolicyDocument"]
    assert normalise_policy(live) == normalise_policy(trust())
