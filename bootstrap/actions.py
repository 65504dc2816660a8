"""From botocore operations to the IAM actions that authorise them, and action classes.

Most operations are authorised by the action `<iam prefix>:<operation>`; the exceptions
are data here, not code. A create call that carries tags also needs the service's tag
action (AWS authorises tag-on-create separately), and every create we send is tagged.
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
    "s3:DeleteObjects": ("s3:DeleteObject",),
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

# Actions AWS checks besides the operation's own (documented dependent actions).
IMPLIED: dict[str, tuple[str, ...]] = {
    "ecs:RegisterTaskDefinition": ("iam:PassRole",),  # task and execution roles
    "application-autoscaling:RegisterScalableTarget": ("iam:CreateServiceLinkedRole",),
    # RDS-managed master password: RDS creates the secret on our behalf.
    "rds:CreateDBInstance": (
        "kms:DescribeKey",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
    ),
}

# service iam prefix -> (tag action, operation prefixes that create a resource)
TAG_ON_CREATE: dict[str, tuple[str, tuple[str, ...]]] = {
    "ec2": ("ec2:CreateTags", ("Create", "Allocate", "Run")),
    "elasticloadbalancing": ("elasticloadbalancing:AddTags", ("Create",)),
    "ecs": ("ecs:TagResource", ("Create", "RegisterTaskDefinition", "RunTask")),
    "ecr": ("ecr:TagResource", ("CreateRepository",)),
    "logs": ("logs:TagResource", ("CreateLogGroup",)),
    "rds": ("rds:AddTagsToResource", ("Create",)),
    "cloudfront": ("cloudfront:TagResource", ("CreateDistributionWithTags",)),
    "application-autoscaling": ("application-autoscaling:TagResource", ("RegisterScalableTarget",)),
    "servicediscovery": ("servicediscovery:TagResource", ("Create",)),
    "secretsmanager": ("secretsmanager:TagResource", ("CreateSecret",)),
    "cloudwatch": ("cloudwatch:TagResource", ("PutMetricAlarm",)),
    "iam": ("iam:TagRole", ("CreateRole",)),
    "sqs": ("sqs:TagQueue", ("CreateQueue",)),
}

# Tag-on-create is only needed where the create call carries tags; these do not.
UNTAGGED_CREATES = frozenset(
    {
        "ec2:CreateRoute",
        "ec2:CreateTags",
        "ec2:CreateNetworkAclEntry",
        "logs:CreateLogStream",
        "ecs:CreateTaskSet",
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
    tagging = TAG_ON_CREATE.get(prefix)
    if tagging and key not in UNTAGGED_CREATES and operation.startswith(tagging[1]):
        actions = (*actions, tagging[0])
    return actions


def actions_for_calls(calls: Iterable[tuple[str, str]]) -> set[str]:
    return {a for service, op in calls for a in actions_for(service, op)}


def is_read(action: str) -> bool:
    return action.partition(":")[2].startswith(READ_PREFIXES)


def is_create(action: str) -> bool:
    prefix, _, name = action.partition(":")
    tagging = TAG_ON_CREATE.get(prefix)
    if tagging is None:
        return False
    return name.startswith(tagging[1]) and action not in UNTAGGED_CREATES
