"""`stackop push` and S3 event notifications: real processes against moto.

The push -> first action latency is measured by bench/bench_spec_push.py; here the
SQS path is shown to work at all: with a 120 s poll interval, only the S3 event
can make the operator pick up the pushed spec within the test's wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_stackop
from tests.operator_harness import (
    PORTAL,
    Operator,
    aws,
    make_bucket,
    network_only,
    spec_text,
    wait_for,
)

BUCKET = "stackop-specs"


@pytest.fixture
def queue(endpoint: str) -> Iterator[str]:
    make_bucket(endpoint, BUCKET)
    url = aws(endpoint, "sqs", "create-queue", "--queue-name", "spec-events")["QueueUrl"]
    arn = aws(
        endpoint,
        "sqs",
        "get-queue-attributes",
        "--queue-url",
        url,
        "--attribute-names",
        "QueueArn",
    )["Attributes"]["QueueArn"]
    config = json.dumps(
        {
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "specs/"}]}},
                }
            ]
        }
    )
    aws(
        endpoint,
        "s3api",
        "put-bucket-notification-configuration",
        "--bucket",
        BUCKET,
        "--notification-configuration",
        config,
    )
    yield str(url)


def test_push_validates_then_uploads_and_refuses_an_invalid_spec(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    ok = run_stackop("--bucket", BUCKET, "push", str(PORTAL), endpoint=endpoint, timeout=60)
    assert ok.returncode == 0, ok.stderr
    stored = aws(endpoint, "s3", "cp", f"s3://{BUCKET}/specs/portal.yaml", "-")
    assert stored == PORTAL.read_text()

    bad = tmp_path / "bad.yaml"
    bad.write_text(PORTAL.read_text().replace("natGateways: single", "natGateways: often"))
    pushed = run_stackop("--bucket", BUCKET, "push", str(bad), endpoint=endpoint, timeout=60)
    validated = run_stackop("validate", str(bad), timeout=60)
    assert pushed.returncode == 1 and validated.returncode == 1
    assert pushed.stderr == validated.stderr and "natGateways" in pushed.stderr
    listed = aws(endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET)["Contents"]
    assert [o["Key"] for o in listed] == ["specs/portal.yaml"], "the invalid spec was not uploaded"


def test_s3_event_via_sqs_starts_the_reconcile_without_waiting_for_the_poll(
    endpoint: str, queue: str, tmp_path: Path
) -> None:
    op = Operator(endpoint, BUCKET, tmp_path, "op", "--queue-url", queue)
    op.start(resync=30, poll=120, lease=10)
    try:
        spec = tmp_path / "events.yaml"
        spec.write_text(spec_text("events-stack", network_only))
        aws(endpoint, "s3", "cp", str(spec), f"s3://{BUCKET}/specs/events.yaml")
        wait_for(
            lambda: any(
                e.get("event") == "action_started" and e.get("stack") == "events-stack"
                for e in op.logs()
            ),
            30,
            "the first action, started by the S3 event (the poll is 120 s away)",
        )
    finally:
        op.kill()
