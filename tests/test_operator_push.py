"""`stackop push` and S3 event notifications: real processes against moto.

The push -> first action latency is measured by bench/bench_spec_push.py; here the
SQS path is shown to work at all: with a 120 s poll interval, only the S3 event
can make the operator pick up the pushed spec within the test's wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_stackop
from tests.identity_harness import tiny
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


def _keys(endpoint: str) -> list[str]:
    listed = aws(endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "specs/")
    return sorted(o["Key"] for o in (listed or {}).get("Contents", []))


def test_push_refuses_a_second_object_for_a_stack_unless_replace_key(
    endpoint: str, tmp_path: Path
) -> None:
    make_bucket(endpoint, BUCKET)
    first, second, other = tmp_path / "first.yaml", tmp_path / "second.yaml", tmp_path / "o.yaml"
    first.write_text(tiny("idp-shop", owner="first"))
    second.write_text(tiny("idp-shop", owner="second"))
    other.write_text(tiny("idp-other"))

    def push(*args: str) -> Any:
        return run_stackop("--bucket", BUCKET, "push", *args, endpoint=endpoint, timeout=60)

    assert push(str(first)).returncode == 0
    assert push(str(first)).returncode == 0, "pushing the same key again is an update"
    assert push(str(other)).returncode == 0, "another stack under another key is fine"

    refused = push(str(second))
    assert refused.returncode == 1
    assert "stack idp-shop is already defined by s3://stackop-specs/specs/first.yaml" in (
        refused.stderr
    )
    assert "--replace-key" in refused.stderr
    assert _keys(endpoint) == ["specs/first.yaml", "specs/o.yaml"], "nothing uploaded"

    replaced = push(str(second), "--replace-key")
    assert replaced.returncode == 0, replaced.stderr
    assert "deleted s3://stackop-specs/specs/first.yaml" in replaced.stdout
    assert _keys(endpoint) == ["specs/o.yaml", "specs/second.yaml"]
    stored = aws(endpoint, "s3", "cp", f"s3://{BUCKET}/specs/second.yaml", "-")
    assert stored == second.read_text()

    # an invalid object keeps the stack it managed: its status document names the key
    aws(endpoint, "s3", "cp", str(other), f"s3://{BUCKET}/specs/broken.yaml")
    garbage = tmp_path / "broken.yaml"
    garbage.write_text("spec: [unclosed\n")
    aws(endpoint, "s3", "cp", str(garbage), f"s3://{BUCKET}/specs/broken.yaml")
    doc = tmp_path / "status.json"
    doc.write_text(json.dumps({"stack": "idp-other", "specKey": "specs/broken.yaml"}))
    aws(endpoint, "s3", "cp", str(doc), f"s3://{BUCKET}/status/idp-other.json")
    aws(endpoint, "s3", "rm", f"s3://{BUCKET}/specs/o.yaml")
    refused = push(str(other))
    assert refused.returncode == 1 and "specs/broken.yaml" in refused.stderr, refused.stderr
