"""Optional (--events): an EventBridge rule sending CloudTrail write events of the
services the operator manages to its queue, so drift is corrected within seconds.

EventBridge delivers `AWS API Call via CloudTrail` events only for calls that change
something (not Describe/List/Get) and only where a CloudTrail trail records management
events. IAM and CloudFront are global: their events arrive in us-east-1 only.
"""

from __future__ import annotations

import json
from typing import Any

from bootstrap.compare import as_json
from bootstrap.site import Site

RULE_NAME = "stackop-drift-events"
TARGET_ID = "stackop-queue"
# EventBridge source -> CloudTrail eventSource of each service we manage
EVENT_SOURCES = {
    "aws.ec2": "ec2.amazonaws.com",
    "aws.rds": "rds.amazonaws.com",
    "aws.elasticloadbalancing": "elasticloadbalancing.amazonaws.com",
    "aws.ecs": "ecs.amazonaws.com",
    "aws.logs": "logs.amazonaws.com",
    "aws.iam": "iam.amazonaws.com",
    "aws.application-autoscaling": "application-autoscaling.amazonaws.com",
    "aws.cloudfront": "cloudfront.amazonaws.com",
    "aws.s3": "s3.amazonaws.com",
    "aws.servicediscovery": "servicediscovery.amazonaws.com",
    "aws.ecr": "ecr.amazonaws.com",
    "aws.cloudwatch": "monitoring.amazonaws.com",
}


def event_pattern() -> dict[str, Any]:
    return {
        "source": sorted(EVENT_SOURCES),
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": sorted(EVENT_SOURCES.values())},
    }


def rule_arn(site: Site) -> str:
    return site.arn("events", f"rule/{RULE_NAME}")


async def ensure_drift_rule(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    queue_arn = site.queue_arn
    assert queue_arn is not None
    ch.say(f"drift events rule {RULE_NAME} -> queue {cfg.queue}")
    pattern = event_pattern()
    live = await ch.read("events", "describe_rule", Name=RULE_NAME)
    if (
        live is None
        or as_json(live.get("EventPattern")) != pattern
        or live.get("State") != "ENABLED"
    ):
        await ch.call(
            "events",
            "put_rule",
            "rule missing" if live is None else "rule differs",
            Name=RULE_NAME,
            EventPattern=json.dumps(pattern, sort_keys=True),
            State="ENABLED",
            Description="CloudTrail write events of stack-operator's services, to its queue",
            Tags=[{"Key": k, "Value": v} for k, v in cfg.tags().items()],
        )
    targets = (await ch.read("events", "list_targets_by_rule", Rule=RULE_NAME) or {}).get(
        "Targets", []
    )
    if not any(t.get("Id") == TARGET_ID and t.get("Arn") == queue_arn for t in targets):
        await ch.call(
            "events",
            "put_targets",
            "queue target missing",
            Rule=RULE_NAME,
            Targets=[{"Id": TARGET_ID, "Arn": queue_arn}],
        )
