"""Issue 12 item 2: CloudTrail change events reconcile the stack they name at once.

moto does not emit CloudTrail events and does not implement TestEventPattern
(NotImplementedError in 5.2.5): the rule's pattern is checked against CloudTrail event
samples (tests/specs/cloudtrail/, in the shape AWS documents for EventBridge's `AWS API
Call via CloudTrail` events) by putting them on the default bus with `put-events`:
moto's pattern matcher decides which reach the rule's SQS target.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.drift_rule import EVENT_SOURCES, RULE_NAME, event_pattern
from controller.engine.ids import aliases as stack_ids
from controller.operator.drift_events import owning_stacks, parse_change
from tests.aws import client
from tests.conftest import ROOT, run_stackop
from tests.operator_harness import (
    PORTAL_NAME,
    Operator,
    converged,
    has_ingress_port,
    make_bucket,
    network_only,
    open_port_out_of_band,
    owned_groups,
    push_text,
    read_object,
    series,
    spec_text,
    value,
    wait_for,
)
from tests.test_bootstrap import bootstrap

SAMPLES = ROOT / "tests" / "specs" / "cloudtrail"
BUCKET = "stackop-specs"
QUEUE = "stackop-spec-events"
MANAGED = [
    "ec2",
    "rds",
    "elasticloadbalancing",
    "ecs",
    "logs",
    "iam",
    "application-autoscaling",
    "cloudfront",
    "s3",
    "servicediscovery",
    "ecr",
    "cloudwatch",
]


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return data


def put_event(endpoint: str, event: dict[str, Any]) -> None:
    reply = client("events", endpoint).put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event.get("resources", []),
            }
        ]
    )
    assert reply["FailedEntryCount"] == 0, reply


def drain(endpoint: str, queue_url: str) -> list[dict[str, Any]]:
    sqs = client("sqs", endpoint)
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_pattern_names_every_managed_service() -> None:
    pattern = event_pattern()
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert sorted(s.removeprefix("aws.") for s in pattern["source"]) == sorted(MANAGED)
    assert "monitoring.amazonaws.com" in pattern["detail"]["eventSource"]  # CloudWatch
    assert len(pattern["detail"]["eventSource"]) == len(EVENT_SOURCES)


def test_bootstrap_events_creates_the_rule_and_routes_change_events(
    endpoint: str, tmp_path: Path
) -> None:
    proc = bootstrap(endpoint, tmp_path / "calls.jsonl", "--events")
    assert proc.returncode == 0, proc.stderr
    events = client("events", endpoint)
    rule = events.describe_rule(Name=RULE_NAME)
    assert json.loads(rule["EventPattern"]) == event_pattern() and rule["State"] == "ENABLED"
    sqs = client("sqs", endpoint)
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    (target,) = events.list_targets_by_rule(Rule=RULE_NAME)["Targets"]
    assert target["Arn"] == queue_arn
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    (stmt,) = [s for s in policy["Statement"] if s["Sid"] == "DriftEvents"]
    assert stmt["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    # idempotent: a second run changes nothing
    again = bootstrap(endpoint, tmp_path / "again.jsonl", "--events")
    assert "No changes: everything was already in place." in again.stdout, again.stdout

    drain(endpoint, queue_url)  # the spec upload's S3 notification
    for name in ("ec2-authorize-security-group-ingress", "ecs-update-service"):
        put_event(endpoint, sample(name))
    put_event(endpoint, sample("kms-create-key"))  # not a service we manage
    ec2 = sample("ec2-authorize-security-group-ingress")
    put_event(endpoint, {**ec2, "detail-type": "EC2 Instance State-change Notification"})
    got = drain(endpoint, queue_url)
    assert sorted(e["detail"]["eventName"] for e in got) == [
        "AuthorizeSecurityGroupIngress",
        "UpdateService",
    ], got
    assert all(e["detail-type"] == "AWS API Call via CloudTrail" for e in got)


def test_events_map_to_the_stack_that_owns_what_they_name() -> None:
    stacks = {
        "portal": stack_ids(["sg-0123456789abcdef0", "/ecs/portal/order", "portal"]),
        "portal-dev": stack_ids(["sg-0fedcba9876543210"]),
        "other": stack_ids(["arn:aws:ecs:us-east-1:123456789012:service/other/other-web"]),
    }
    ec2 = parse_change(json.dumps(sample("ec2-authorize-security-group-ingress")))
    assert ec2 is not None
    assert (ec2.event_name, ec2.principal) == (
        "AuthorizeSecurityGroupIngress",
        "arn:aws:iam::123456789012:user/alice",
    )
    assert owning_stacks(ec2, stacks) == {"portal"}
    ecs = parse_change(json.dumps(sample("ecs-update-service")))
    assert ecs is not None
    # an assumed role's sessions are one principal
    assert ecs.principal == "arn:aws:sts::123456789012:assumed-role/Admin"
    assert owning_stacks(ecs, stacks) == {"portal"}
    logs = parse_change(json.dumps(sample("logs-put-retention-policy")))
    assert logs is not None and owning_stacks(logs, stacks) == {"portal"}
    # named only by a resource name under portal-dev's prefix: the longer stack name wins
    dev = sample("logs-put-retention-policy")
    dev["detail"]["requestParameters"]["logGroupName"] = "/ecs/portal-dev/order"
    change = parse_change(json.dumps(dev))
    assert change is not None and owning_stacks(change, stacks) == {"portal-dev"}
    # an S3 notification on the same queue is not a change event
    assert parse_change(json.dumps({"Records": [{"s3": {}}]})) is None
    assert parse_change("not json") is None


# ---------------------------------------------------------------- the operator, end to end


def events_queue(endpoint: str) -> str:
    """The spec bucket, the operator's queue and the drift rule routing to it: its URL."""
    make_bucket(endpoint, BUCKET)
    sqs = client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = client("events", endpoint)
    events.put_rule(Name=RULE_NAME, EventPattern=json.dumps(event_pattern()), State="ENABLED")
    events.put_targets(Rule=RULE_NAME, Targets=[{"Id": "q", "Arn": queue_arn}])
    return str(queue_url)


@pytest.fixture
def events_operator(endpoint: str, tmp_path: Path) -> Iterator[tuple[Operator, str]]:
    queue_url = events_queue(endpoint)
    op = Operator(endpoint, BUCKET, tmp_path)
    op.extra_env = {"STACKOP_QUEUE_URL": queue_url}
    op.start(resync=300, poll=1, lease=5)  # the resync cannot be what corrects the drift
    push_text(endpoint, BUCKET, "specs/net.yaml", spec_text(edit=network_only), tmp_path)
    wait_for(lambda: converged(op, PORTAL_NAME), 60, "converged")
    yield op, queue_url
    op.kill()


def _drift_event(group_id: str, principal: str) -> dict[str, Any]:
    event = sample("ec2-authorize-security-group-ingress")
    event["detail"]["requestParameters"]["groupId"] = group_id
    event["detail"]["responseElements"]["securityGroupRuleSet"]["items"][0]["groupId"] = group_id
    event["detail"]["userIdentity"]["arn"] = principal
    return event


def _port_open(endpoint: str, port: int) -> bool:
    (group,) = owned_groups(endpoint, PORTAL_NAME, "alb")
    return has_ingress_port(group, port)


def test_change_event_corrects_drift_at_once_and_own_events_are_ignored(
    endpoint: str, events_operator: tuple[Operator, str], tmp_path: Path
) -> None:
    op, queue_url = events_operator
    own = client("sts", endpoint).get_caller_identity()["Arn"]  # the operator's, in moto
    group_id = open_port_out_of_band(endpoint, PORTAL_NAME, "alb", 2222, "203.0.113.7/32")
    # an event of our own principal is our own correction: nothing is reconciled
    put_event(endpoint, _drift_event(group_id, own))
    wait_for(
        lambda: value(op.metrics(), "stackop_drift_events_total", stack="", result="own") == 1,
        15,
        "own event counted",
    )
    time.sleep(2)
    assert _port_open(endpoint, 2222)
    # someone else's: the stack is reconciled at once, long before the 300 s resync
    started = time.monotonic()
    put_event(endpoint, _drift_event(group_id, "arn:aws:iam::123456789012:user/alice"))
    wait_for(lambda: not _port_open(endpoint, 2222), 15, "drift corrected")
    assert time.monotonic() - started < 10
    m = op.metrics()
    assert value(m, "stackop_drift_events_total", stack=PORTAL_NAME, result="reconcile") == 1
    assert value(m, "stackop_drift_corrected_total", stack=PORTAL_NAME, kind="security_group")

    # item 3: the drift is in the stack's history, with who did it, and on the dashboard
    def corrected_record() -> dict[str, Any] | None:
        doc = read_object(endpoint, BUCKET, f"status/{PORTAL_NAME}.json") or {}
        done = [r for r in doc.get("driftHistory", []) if r.get("correctedAt")]
        return done[-1] if done else None

    record = wait_for(corrected_record, 15, "the correction in status/<stack>.json")
    assert record["resource"] == "security_group/alb"
    assert record["principal"] == "arn:aws:iam::123456789012:user/alice"
    assert record["event"] == "AuthorizeSecurityGroupIngress"
    assert "2222" in record["new"] and "2222" not in record["old"]
    assert record["detectedAt"] <= record["correctedAt"]
    proc = run_stackop("--bucket", BUCKET, "history", PORTAL_NAME, endpoint=endpoint)
    assert proc.returncode == 0, proc.stderr
    assert "security_group/alb" in proc.stdout
    assert "by arn:aws:iam::123456789012:user/alice (AuthorizeSecurityGroupIngress)" in proc.stdout
    assert series(
        op.metrics(),
        "stackop_drift_last_corrected_timestamp_seconds",
        stack=PORTAL_NAME,
        principal="arn:aws:iam::123456789012:user/alice",
        event="AuthorizeSecurityGroupIngress",
    )

    # a new operator process carries the history on (read back from the status object)
    op.stop()
    successor = Operator(endpoint, BUCKET, tmp_path, "op2")
    successor.extra_env = {"STACKOP_QUEUE_URL": queue_url}
    successor.start(resync=300, poll=1, lease=5)
    try:

        def rewritten() -> Any:
            doc = read_object(endpoint, BUCKET, f"status/{PORTAL_NAME}.json") or {}
            return doc if doc.get("holder") == "op2" and doc.get("lastReconcileTime") else None

        doc = wait_for(rewritten, 30, "op2 wrote the status")
        assert record in doc["driftHistory"], doc["driftHistory"]
    finally:
        successor.kill()


def test_history_of_an_unknown_stack_is_a_clear_error(endpoint: str) -> None:
    make_bucket(endpoint, BUCKET)
    proc = run_stackop("--bucket", BUCKET, "history", "nope", endpoint=endpoint)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no status for stack nope in s3://{BUCKET}"
