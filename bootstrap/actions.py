"""From botocore operations to the IAM actions that authorise them, and action classes.

Most operations are authorised by the action `<iam prefix>:<operation>`; the exceptions
are data here, not code. A create call that carries tags also needs the service's tag
action (AWS authorises tag-on-create separately), and every create we send is tagged.
`is_create` also decides which writes the policy scopes with `aws:RequestTag`.
"""

from __future__ import annotations

from collections.abc import Iterable

IAM_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "application-autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
    "service-discovery": "servicediscovery",
    "servicediscovery": "servicediscovery",
    "resourcegroupstaggingapi": "tag",
}

RENAMED: dict[str, tuple[str, ...]] = {
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:ListObjects": ("s3:ListBucket",),
    "s3:HeadBucket": ("s3:ListBucket",),
    "s3:HeadObject": ("s3:GetObject",),
    "s3:ListObjectVersions": ("s3:ListBucketVersions",),
    "s3:GetBucketEncryption": ("s3:GetEncryptionConfiguration",),
    "s3:PutBucketEncryption": ("s3:PutEncryptionConfiguration",),
    "s3:GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock",),
    "s3:PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "s3:DeletePublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "s3:GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration",),
    "s3:PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "s3:GetBucketNotificationConfiguration": ("s3:GetBucketNotification",),
    "s3:PutBucketNotificationConfiguration": ("s3:PutBucketNotification",),
    "s3:DeleteBucketPolicy": ("s3:DeleteBucketPolicy",),
    "s3:DeleteObjects": ("s3:DeleteObject", "s3:DeleteObjectVersion"),  # with VersionIds
    "s3:GetBucketOwnershipControls": ("s3:GetBucketOwnershipControls",),
    "s3:PutBucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "s3:GetBucketWebsite": ("s3:GetBucketWebsite",),
    "s3:GetBucketCors": ("s3:GetBucketCORS",),
    "s3:PutBucketCors": ("s3:PutBucketCORS",),
    "s3:GetBucketTagging": ("s3:GetBucketTagging",),
    "s3:PutBucketTagging": ("s3:PutBucketTagging",),
    "cloudfront:CreateDistributionWithTags": ("cloudfront:CreateDistribution",),
    "sqs:DeleteMessageBatch": ("sqs:DeleteMessage",),
    "sqs:SendMessageBatch": ("sqs:SendMessage",),
    "sqs:ChangeMessageVisibilityBatch": ("sqs:ChangeMessageVisibility",),
    "logs:ListTagsLogGroup": ("logs:ListTagsLogGroup",),
    "sts:GetCallerIdentity": (),  # needs no permission
}

# Actions AWS checks besides the operation's own (documented dependent actions; see
# tests/test_iam_policy.py, which reads AWS's IAM definitions).
IMPLIED: dict[str, tuple[str, ...]] = {
    "ecs:RegisterTaskDefinition": ("iam:PassRole",),  # task and execution roles
    # Cloud Map makes the private hosted zone with the caller's permissions.
    "servicediscovery:CreatePrivateDnsNamespace": (
        "route53:CreateHostedZone",
        "route53:GetHostedZone",
        "ec2:DescribeVpcs",
    ),
    "servicediscovery:DeleteNamespace": ("route53:DeleteHostedZone",),
    "rds:DeleteDBInstance": ("rds:CreateDBSnapshot",),  # the final snapshot
    "application-autoscaling:RegisterScalableTarget": ("iam:CreateServiceLinkedRole",),
    # RDS-managed master password: RDS creates the secret on our behalf.
    "rds:CreateDBInstance": (
        "kms:DescribeKey",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
    ),
}

# Operation prefixes that create a resource (default: Create, Allocate, Run).
CREATE_PREFIXES: dict[str, tuple[str, ...]] = {
    "ecs": ("Create", "RegisterTaskDefinition", "RunTask"),
    "application-autoscaling": ("RegisterScalableTarget",),
    "cloudwatch": ("PutMetricAlarm",),
    "iam": ("CreateRole",),
    "cloudfront": ("CreateDistribution",),  # origin access controls take no tags
}
DEFAULT_CREATE_PREFIXES = ("Create", "Allocate", "Run")

# Services that authorise tag-on-create with their tag action (documented per service).
TAG_ACTION: dict[str, str] = {
    "ec2": "ec2:CreateTags",
    "elasticloadbalancing": "elasticloadbalancing:AddTags",
    "ecs": "ecs:TagResource",
    "ecr": "ecr:TagResource",
    "logs": "logs:TagResource",
    "rds": "rds:AddTagsToResource",
    "cloudfront": "cloudfront:TagResource",
    "application-autoscaling": "application-autoscaling:TagResource",
    "secretsmanager": "secretsmanager:TagResource",
    "cloudwatch": "cloudwatch:TagResource",
    "iam": "iam:TagRole",
    "sqs": "sqs:TagQueue",
}

# Creates whose request carries no tags.
UNTAGGED_CREATES = frozenset(
    {
        "ec2:CreateRoute",
        "ec2:CreateTags",
        "ec2:CreateNetworkAclEntry",
        "logs:CreateLogStream",
        "ecs:CreateTaskSet",
        "iam:CreateServiceLinkedRole",
    }
)

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Search", "BatchGet")


def iam_prefix(service: str) -> str:
    return IAM_PREFIX.get(service, service)


def actions_for(service: str, operation: str) -> tuple[str, ...]:
    """The IAM actions one botocore operation needs (tag-on-create included)."""
    prefix = iam_prefix(service)
    key = f"{prefix}:{operation}"
    actions = (*RENAMED.get(key, (key,)), *IMPLIED.get(key, ()))
    if is_create(key) and prefix in TAG_ACTION:
        actions = (*actions, TAG_ACTION[prefix])
    return actions


def actions_for_calls(calls: Iterable[tuple[str, str]]) -> set[str]:
    return {a for service, op in calls for a in actions_for(service, op)}


def is_read(action: str) -> bool:
    return action.partition(":")[2].startswith(READ_PREFIXES)


def is_create(action: str) -> bool:
    """A call that makes a new resource, with our tags in the request."""
    prefix, _, name = action.partition(":")
    starts = CREATE_PREFIXES.get(prefix, DEFAULT_CREATE_PREFIXES)
    return name.startswith(starts) and action not in UNTAGGED_CREATES
