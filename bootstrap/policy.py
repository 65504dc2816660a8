"""IAM policy documents for the operator: generated from what each kind declares.

The task role gets exactly the actions the kinds declare plus the operator's own (spec
bucket, spec events queue, scaling metrics) and never a wildcard action. Writes are
scoped to resources carrying the ownership tag where the service supports tag
conditions (`aws:RequestTag` on create, `aws:ResourceTag` on everything else); the
rest is listed by name in a statement of its own so a reviewer sees it.

Which condition keys an action supports is data below (AWS Service Authorization
Reference); moto does not evaluate conditions, so tests check the documents we send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bootstrap.actions import TAG_ACTION, is_create, is_read
from controller.engine.resource import OWNER_TAG, OWNER_VALUE
from controller.spec.naming import bucket_name

Statement = dict[str, Any]


@dataclass(frozen=True)
class TagScope:
    request_tag: bool = True
    resource_tag: bool = True
    create_action_key: str | None = None
    """Condition key naming the create call a tag action belongs to (tag-on-create)."""
    neither: frozenset[str] = frozenset()
    """Write actions of the service that support no tag condition at all."""


TAG_SCOPES: dict[str, TagScope] = {
    "ec2": TagScope(create_action_key="ec2:CreateAction"),
    "elasticloadbalancing": TagScope(create_action_key="elasticloadbalancing:CreateAction"),
    "ecs": TagScope(
        create_action_key="ecs:CreateAction",
        neither=frozenset({"ecs:DeregisterTaskDefinition", "ecs:DeleteTaskDefinitions"}),
    ),
    "ecr": TagScope(),
    "logs": TagScope(),
    "rds": TagScope(),
    "application-autoscaling": TagScope(),
    "cloudwatch": TagScope(),
    "servicediscovery": TagScope(),
    # Not secretsmanager, kms, route53: RDS and Cloud Map call them on our behalf with
    # their own tags (the RDS-managed password secret, the namespace's hosted zone).
    "iam": TagScope(neither=frozenset({"iam:PassRole", "iam:CreateServiceLinkedRole"})),
    "cloudfront": TagScope(
        request_tag=False,  # CreateDistribution has no aws:RequestTag
        neither=frozenset(
            {
                "cloudfront:CreateOriginAccessControl",
                "cloudfront:UpdateOriginAccessControl",
                "cloudfront:DeleteOriginAccessControl",
            }
        ),
    ),
}

ECS_TASKS = "ecs-tasks.amazonaws.com"
LEASES, STATUS = "leases/", "status/"


@dataclass(frozen=True)
class Target:
    """Where the operator runs: names the operator's own statements are scoped to."""

    bucket: str
    prefix: str = "specs/"
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    queue_arn: str | None = None

    def s3(self, key: str = "") -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}{'/' + key if key else ''}"


def operator_actions(events: bool) -> tuple[str, ...]:
    """What the operator itself calls, besides the kinds' actions."""
    base = (
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetObjectVersion",  # the last applied spec, read back by VersionId
        "s3:PutObject",
        "s3:DeleteObject",
        "cloudwatch:GetMetricData",
        "elasticloadbalancing:DescribeTargetHealth",
    )
    # with events, CloudTrail change events arrive too: ours are told apart from others'
    # by GetCallerIdentity, which AWS allows without a grant
    queue = ("sqs:ReceiveMessage", "sqs:DeleteMessage")
    return (*base, *queue) if events else base


def _owner(key: str) -> dict[str, Any]:
    return {"StringEquals": {f"{key}/{OWNER_TAG}": OWNER_VALUE}}


def _stmt(sid: str, actions: Iterable[str], resource: Any = "*", **extra: Any) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": resource,
        **extra,
    }


def _operator_statements(t: Target) -> list[Statement]:
    prefix = t.prefix.strip("/") + "/" if t.prefix.strip("/") else ""
    out = [
        _stmt("ListSpecBucket", ["s3:ListBucket"], t.s3()),
        _stmt("ReadSpecs", ["s3:GetObject", "s3:GetObjectVersion"], [t.s3(f"{prefix}*")]),
        _stmt(
            "StatusAndLeases",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [t.s3(f"{STATUS}*"), t.s3(f"{LEASES}*")],
        ),
        _stmt(
            "ScalingMetrics",
            ["cloudwatch:GetMetricData", "elasticloadbalancing:DescribeTargetHealth"],
        ),
    ]
    if t.queue_arn:
        out.append(_stmt("SpecEvents", ["sqs:ReceiveMessage", "sqs:DeleteMessage"], t.queue_arn))
    return out


def _tag_actions() -> set[str]:
    return set(TAG_ACTION.values())


def _kind_statements(actions: set[str], t: Target) -> list[Statement]:
    groups: dict[str, set[str]] = {
        k: set() for k in ("Observe", "CreateTagged", "ModifyOwned", "Unscoped", "Frontend")
    }
    # Tag actions of services without tag conditions here (e.g. the RDS-managed secret's)
    # are classified like any other write below: unscoped.
    tag_actions = {a for a in actions & _tag_actions() if a.partition(":")[0] in TAG_SCOPES}
    for action in sorted(actions - tag_actions):
        prefix = action.partition(":")[0]
        scope = TAG_SCOPES.get(prefix)
        if is_read(action):
            groups["Observe"].add(action)
        elif prefix == "s3":
            groups["Frontend"].add(action)
        elif action == "iam:PassRole":
            continue
        elif scope is None or action in scope.neither:
            groups["Unscoped"].add(action)
        elif is_create(action):
            groups["CreateTagged" if scope.request_tag else "Unscoped"].add(action)
        else:
            groups["ModifyOwned" if scope.resource_tag else "Unscoped"].add(action)
    out: list[Statement] = []
    if groups["Observe"]:
        out.append(_stmt("ObserveStackResources", groups["Observe"]))
    if groups["CreateTagged"]:
        out.append(
            _stmt("CreateOnlyTagged", groups["CreateTagged"], Condition=_owner("aws:RequestTag"))
        )
    if groups["ModifyOwned"]:
        out.append(
            _stmt("ModifyOnlyOwned", groups["ModifyOwned"], Condition=_owner("aws:ResourceTag"))
        )
    out += _tag_statements(tag_actions)
    if groups["Frontend"]:
        front = f"arn:{t.partition}:s3:::{bucket_name('*')}"
        out.append(_stmt("FrontendBuckets", groups["Frontend"], [front, f"{front}/*"]))
    if "iam:PassRole" in actions:
        out.append(
            _stmt(
                "PassRoleToEcsTasks",
                ["iam:PassRole"],
                Condition={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
            )
        )
    if groups["Unscoped"]:
        out.append(_stmt("NoTagConditionSupport", groups["Unscoped"]))
    return out


def _tag_statements(tag_actions: set[str]) -> list[Statement]:
    """Re-tag only owned resources; tag at create time only with the ownership tag."""
    if not tag_actions:
        return []
    out = [_stmt("RetagOwned", tag_actions, Condition=_owner("aws:ResourceTag"))]
    by_key: dict[str | None, set[str]] = {}
    for action in tag_actions:
        scope = TAG_SCOPES.get(action.partition(":")[0], TagScope())
        by_key.setdefault(scope.create_action_key, set()).add(action)
    for key, group in sorted(by_key.items(), key=lambda kv: kv[0] or ""):
        condition: dict[str, Any] = _owner("aws:RequestTag")
        if key:
            condition = {**condition, "Null": {key: "false"}}
        sid = "TagOnCreate" + (
            "" if key is None else key.partition(":")[0].title().replace("-", "")
        )
        out.append(_stmt(sid, group, Condition=condition))
    return out


def task_role_policy(t: Target, kind_actions: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    """The operator task role's policy: its own needs (queue only when `t.queue_arn`)
    plus every kind's actions."""
    actions = {a for acts in kind_actions.values() for a in acts}
    statements = _operator_statements(t) + _kind_statements(actions, t)
    return {"Version": "2012-10-17", "Statement": statements}


def allowed_actions(policy: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for stmt in policy["Statement"]:
        acts = stmt["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return out


def execution_role_policy(t: Target, log_group_arn: str, repository_arn: str) -> dict[str, Any]:
    """What ECS needs to start the operator's task: pull its image, write its logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _stmt("AuthToken", ["ecr:GetAuthorizationToken"]),
            _stmt(
                "PullImage",
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                repository_arn,
            ),
            _stmt("WriteLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group_arn}:*"),
        ],
    }


def trust_policy(service: str = ECS_TASKS, account: str | None = None) -> dict[str, Any]:
    stmt: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account:
        stmt["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return {"Version": "2012-10-17", "Statement": [stmt]}


def bucket_policy(t: Target) -> dict[str, Any]:
    """Deny any request to the spec bucket that does not use TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [t.s3(), t.s3("*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def queue_policy(
    queue_arn: str, bucket_arn: str, account: str, rule_arn: str | None = None
) -> dict[str, Any]:
    """Let the spec bucket (and only it) send its event notifications to the queue, and
    the drift events rule (only it) its CloudTrail events."""
    statements: list[Statement] = [
        {
            "Sid": "SpecBucketEvents",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "ArnEquals": {"aws:SourceArn": bucket_arn},
                "StringEquals": {"aws:SourceAccount": account},
            },
        }
    ]
    if rule_arn:
        statements.append(
            {
                "Sid": "DriftEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
