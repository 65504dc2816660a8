"""Optional (--events): an SQS queue the spec bucket notifies on spec changes, and the
EventBridge rule of CloudTrail change events (drift_rule) targeting it."""

from __future__ import annotations

import json
from typing import Any

from bootstrap.compare import as_json
from bootstrap.drift_rule import ensure_drift_rule, rule_arn
from bootstrap.policy import queue_policy
from bootstrap.site import Site

NOTIFICATION_ID = "stackop-spec-events"
QUEUE_ATTRIBUTES = {
    "MessageRetentionPeriod": "86400",
    "ReceiveMessageWaitTimeSeconds": "20",
    "SqsManagedSseEnabled": "true",
}


async def ensure_events(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    queue_arn = site.queue_arn
    assert queue_arn is not None
    ch.say(f"spec events queue {cfg.queue}")
    policy = queue_policy(queue_arn, site.bucket_arn, site.account, rule_arn(site))
    want = {**QUEUE_ATTRIBUTES, "Policy": json.dumps(policy, sort_keys=True)}
    found = await ch.read("sqs", "get_queue_url", QueueName=cfg.queue)
    if found is None:
        made = await ch.call(
            "sqs",
            "create_queue",
            "queue missing",
            QueueName=cfg.queue,
            Attributes=want,
            tags=cfg.tags(),
        )
        site.queue_url = (made or {}).get("QueueUrl")
    else:
        site.queue_url = found["QueueUrl"]
        live = (
            await ch.read(
                "sqs",
                "get_queue_attributes",
                QueueUrl=site.queue_url,
                AttributeNames=sorted(want),
            )
            or {}
        ).get("Attributes", {})
        stale = {
            k: v
            for k, v in want.items()
            if (as_json(live.get(k)) != policy if k == "Policy" else live.get(k) != v)
        }
        if stale:
            await ch.call(
                "sqs",
                "set_queue_attributes",
                f"{', '.join(sorted(stale))} differ",
                QueueUrl=site.queue_url,
                Attributes=stale,
            )
    await _ensure_notification(site, queue_arn)
    await ensure_drift_rule(site)


def _ours(queue_arn: str, prefix: str) -> dict[str, Any]:
    return {
        "Id": NOTIFICATION_ID,
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
    }


def _same(live: dict[str, Any], want: dict[str, Any]) -> bool:
    rules = live.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return (
        live.get("QueueArn") == want["QueueArn"]
        and sorted(live.get("Events", [])) == sorted(want["Events"])
        and [(r.get("Name", "").lower(), r.get("Value")) for r in rules]
        == [("prefix", want["Filter"]["Key"]["FilterRules"][0]["Value"])]
    )


async def _ensure_notification(site: Site, queue_arn: str) -> None:
    cfg, ch = site.cfg, site.ch
    live = await ch.read("s3", "get_bucket_notification_configuration", Bucket=cfg.bucket) or {}
    live.pop("ResponseMetadata", None)
    want = _ours(queue_arn, cfg.norm_prefix)
    queues = live.get("QueueConfigurations", [])
    mine = [q for q in queues if q.get("Id") == NOTIFICATION_ID]
    if len(mine) == 1 and _same(mine[0], want):
        return
    # The call replaces the whole configuration: keep everything that is not ours.
    others = [q for q in queues if q.get("Id") != NOTIFICATION_ID]
    config = {k: v for k, v in live.items() if k != "QueueConfigurations" and v}
    config["QueueConfigurations"] = [*others, want]
    await ch.call(
        "s3",
        "put_bucket_notification_configuration",
        "spec change notification missing",
        Bucket=cfg.bucket,
        NotificationConfiguration=config,
    )
