"""stack-bootstrap against moto server, as a real process: from empty, again (no change),
--dry-run (no write call), drift repaired, invalid specs refused before any AWS call.

moto cannot start the operator's ECS tasks (no container runtime; `run_task` with awsvpc
fails), so the service is checked as created, not as running.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from bootstrap.actions import is_read
from bootstrap.policy import Target, allowed_actions, task_role_policy
from controller.aws import is_write
from controller.kinds import iam_actions
from tests.aws import client
from tests.conftest import BIN, ROOT

BUCKET = "stackop-specs-test"


def bootstrap(
    endpoint: str, log: Path, *args: str, specs: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real console script; its AWS calls go to `log`, not the suite's audit."""
    cmd = [str(BIN / "stack-bootstrap"), "--bucket", BUCKET, "--endpoint-url", endpoint]
    cmd += ["--specs-dir", str(specs or ROOT / "specs"), *args]
    env = {**os.environ, "STACKOP_CALL_LOG": str(log)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def calls(log: Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [(r["service"], r["operation"]) for r in rows]


def writes(log: Path) -> list[tuple[str, str]]:
    return [(s, op) for s, op in calls(log) if is_write(op)]


def test_from_empty_then_again_changes_nothing(endpoint: str, tmp_path: Path) -> None:
    first = bootstrap(endpoint, tmp_path / "first.jsonl", "--events")
    assert first.returncode == 0, first.stderr
    made = writes(tmp_path / "first.jsonl")
    assert f"{len(made)} change(s) made." in first.stdout
    assert "Next steps:" in first.stdout
    _check_everything_in_place(endpoint)

    second = bootstrap(endpoint, tmp_path / "second.jsonl", "--events")
    assert second.returncode == 0, second.stderr
    assert "No changes: everything was already in place." in second.stdout
    assert writes(tmp_path / "second.jsonl") == []
    assert " + " not in second.stdout


def _check_everything_in_place(endpoint: str) -> None:
    s3 = client("s3", endpoint)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert {
        r["Filter"]["Prefix"]: r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules
    } == {
        "status/": 7,
        "leases/": 7,
    }
    body = s3.get_object(Bucket=BUCKET, Key="specs/portal.yaml")["Body"].read()
    assert body == (ROOT / "specs" / "portal.yaml").read_bytes()

    sqs = client("sqs", endpoint)
    queue_url = sqs.get_queue_url(QueueName="stackop-spec-events")["QueueUrl"]
    notif = s3.get_bucket_notification_configuration(Bucket=BUCKET)["QueueConfigurations"]
    assert notif[0]["QueueArn"].endswith(":stackop-spec-events")
    # moto delivers S3 events to SQS: the spec upload above produced one.
    msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    keys = {
        unquote_plus(rec["s3"]["object"]["key"])  # URL-encoded in the event, as in AWS
        for m in msgs
        for rec in json.loads(m["Body"]).get("Records", [])
    }
    assert "specs/portal.yaml" in keys, msgs

    iam = client("iam", endpoint)
    doc = iam.get_role_policy(RoleName="stackop-operator", PolicyName="stackop")["PolicyDocument"]
    assert allowed_actions(doc) == allowed_actions(
        task_role_policy(Target(bucket=BUCKET, queue_arn=notif[0]["QueueArn"]), iam_actions())
    )
    assert all("*" not in a for a in allowed_actions(doc))
    trust = iam.get_role(RoleName="stackop-execution")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}

    logs = client("logs", endpoint)
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/ecs/stackop")["logGroups"]
    assert group["retentionInDays"] == 30
    ecr = client("ecr", endpoint)
    (repo,) = ecr.describe_repositories(repositoryNames=["stackop"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"

    ecs = client("ecs", endpoint)
    td = ecs.describe_task_definition(taskDefinition="stackop")["taskDefinition"]
    (container,) = td["containerDefinitions"]
    assert container["portMappings"][0]["containerPort"] == 9100
    assert "/healthz" in " ".join(container["healthCheck"]["command"])
    assert container["stopTimeout"] == 30
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env == {
        "STACKOP_BUCKET": BUCKET,
        "STACKOP_PREFIX": "specs/",
        "STACKOP_QUEUE_URL": queue_url,
        "STACKOP_REGION": "us-east-1",
        "STACKOP_RESYNC": "300",
    }
    assert td["taskRoleArn"].endswith(":role/stackop-operator")
    (service,) = ecs.describe_services(cluster="stackop", services=["stackop"])["services"]
    assert service["taskDefinition"] == td["taskDefinitionArn"]
    net = service["networkConfiguration"]["awsvpcConfiguration"]
    assert net["subnets"] and net["securityGroups"]


def test_dry_run_makes_no_write_call(endpoint: str, tmp_path: Path) -> None:
    log = tmp_path / "dry.jsonl"
    result = bootstrap(endpoint, log, "--events", "--dry-run")
    assert result.returncode == 0, result.stderr
    made = calls(log)
    assert made and all(is_read(f"{s}:{op}") or op == "GetCallerIdentity" for s, op in made)
    assert writes(log) == []
    printed = [line.split()[2] for line in result.stdout.splitlines() if "would call" in line]
    for op in (
        "s3:CreateBucket",
        "iam:PutRolePolicy",
        "ecs:RegisterTaskDefinition",
        "ecs:CreateService",
    ):
        assert op in printed
    assert f"Dry run: {len(printed)} write call(s) would be made" in result.stdout
    with pytest.raises(client("s3", endpoint).exceptions.ClientError):
        client("s3", endpoint).head_bucket(Bucket=BUCKET)


def test_drift_is_put_back_and_only_it(endpoint: str, tmp_path: Path) -> None:
    assert bootstrap(endpoint, tmp_path / "a.jsonl").returncode == 0
    s3, iam = client("s3", endpoint), client("iam", endpoint)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    iam.put_role_policy(
        RoleName="stackop-operator",
        PolicyName="stackop",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    result = bootstrap(endpoint, tmp_path / "b.jsonl")
    assert result.returncode == 0, result.stderr
    assert sorted(writes(tmp_path / "b.jsonl")) == [
        ("iam", "PutRolePolicy"),
        ("s3", "PutBucketVersioning"),
    ]
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    doc: dict[str, Any] = iam.get_role_policy(RoleName="stackop-operator", PolicyName="stackop")[
        "PolicyDocument"
    ]
    assert "*" not in allowed_actions(doc)


def test_tls_only_policy_denies_plain_http(endpoint: str, tmp_path: Path) -> None:
    """With --tls-only on the bucket denies non-TLS requests; moto evaluates the policy,
    so a plain-HTTP object write to the emulator is refused (which is why `auto` skips
    the policy on an http:// endpoint)."""
    empty = tmp_path / "no-specs"
    empty.mkdir()
    result = bootstrap(endpoint, tmp_path / "tls.jsonl", "--tls-only", "on", specs=empty)
    assert result.returncode == 0, result.stderr
    s3 = client("s3", endpoint)
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Effect"] == "Deny"
    assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.put_object(Bucket=BUCKET, Key="specs/x.yaml", Body=b"x")
    assert denied.value.response["Error"]["Code"] in {"AccessDenied", "403"}


def test_invalid_spec_is_refused_before_any_aws_call(endpoint: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "bad.yaml").write_text("apiVersion: stackop/v1\nkind: Stack\nmetadata: {}\nspec: {}\n")
    log = tmp_path / "bad.jsonl"
    result = bootstrap(endpoint, log, specs=specs)
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr and "nothing was changed" in result.stderr
    assert calls(log) == []
