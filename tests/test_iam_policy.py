"""The operator's generated IAM policy: its shape, and least privilege proven by the suite.

The `after_suite` tests compare the policy with every AWS operation the session made
(tests/conftest.py `aws_call_audit`). moto does not evaluate IAM conditions, so the
scoping (tag conditions, resource ARNs) is checked on the document itself.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bootstrap.actions import actions_for, actions_for_calls, is_read
from bootstrap.policy import Target, allowed_actions, operator_actions, task_role_policy
from controller.engine.resource import OWNER_TAG
from controller.kinds import KIND_CLASSES, iam_actions
from tests.conftest import ROOT, CallAudit

TARGET = Target(bucket="spec-bucket", queue_arn="arn:aws:sqs:us-east-1:123456789012:q")


def _policy(queue: bool = True) -> dict[str, Any]:
    target = TARGET if queue else Target(bucket="spec-bucket")
    return task_role_policy(target, iam_actions())


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_policy_is_every_declared_action_plus_the_operators_own() -> None:
    declared = {a for acts in iam_actions().values() for a in acts}
    assert allowed_actions(_policy()) == declared | set(operator_actions(events=True))
    assert allowed_actions(_policy(queue=False)) == declared | set(operator_actions(events=False))
    assert "sqs:ReceiveMessage" not in allowed_actions(_policy(queue=False))


def test_no_wildcard_action_and_well_formed_names() -> None:
    for stmt in _policy()["Statement"]:
        assert stmt["Effect"] == "Allow"
        for action in stmt["Action"]:
            prefix, _, name = action.partition(":")
            assert prefix and name and "*" not in action, action


def test_writes_are_scoped_to_owned_resources_where_aws_supports_it() -> None:
    stmts = _statements(_policy())
    for sid, key in (
        ("CreateOnlyTagged", "aws:RequestTag"),
        ("ModifyOnlyOwned", "aws:ResourceTag"),
    ):
        if sid in stmts:
            cond = stmts[sid]["Condition"]["StringEquals"]
            assert cond == {f"{key}/{OWNER_TAG}": "stack-operator"}
            assert not any(is_read(a) for a in stmts[sid]["Action"])
    unscoped = stmts.get("NoTagConditionSupport", {}).get("Action", [])
    # Unscoped writes are the exception, listed by name; most writes carry a tag condition.
    scoped = sum(
        len(s["Action"]) for s in stmts.values() if "Condition" in s or s["Resource"] != "*"
    )
    assert len(unscoped) <= scoped, unscoped
    for stmt in stmts.values():
        if stmt["Resource"] == "*" and "Condition" not in stmt:
            assert stmt["Sid"] in {
                "ObserveStackResources",
                "ScalingMetrics",
                "NoTagConditionSupport",
            }


def test_operator_bucket_access_is_per_prefix() -> None:
    stmts = _statements(_policy())
    assert stmts["ReadSpecs"]["Resource"] == ["arn:aws:s3:::spec-bucket/specs/*"]
    assert stmts["StatusAndLeases"]["Resource"] == [
        "arn:aws:s3:::spec-bucket/status/*",
        "arn:aws:s3:::spec-bucket/leases/*",
    ]
    assert stmts["SpecEvents"]["Resource"] == TARGET.queue_arn
    assert "s3:PutObject" not in stmts["ReadSpecs"]["Action"]


def test_operation_to_action_mapping() -> None:
    assert actions_for("s3", "ListObjectsV2") == ("s3:ListBucket",)
    assert actions_for("s3", "HeadObject") == ("s3:GetObject",)
    assert actions_for("elbv2", "DescribeTargetHealth") == (
        "elasticloadbalancing:DescribeTargetHealth",
    )
    assert actions_for("ec2", "CreateVpc") == ("ec2:CreateVpc", "ec2:CreateTags")
    assert actions_for("ec2", "CreateRoute") == ("ec2:CreateRoute",)
    assert actions_for("sqs", "DeleteMessageBatch") == ("sqs:DeleteMessage",)


# --- least privilege, proven by what the whole suite did ---------------------------------


def _recorded(audit: CallAudit) -> set[str]:
    calls = [(s, o) for s, o, _ in audit.inprocess] + audit.subprocess_calls()
    return actions_for_calls(calls)


def _by_origin(audit: CallAudit) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for service, op, origin in audit.inprocess:
        out[origin].update(actions_for(service, op))
    return out


def _whole_suite_ran(request: pytest.FixtureRequest) -> bool:
    ran = {Path(str(item.path)).resolve() for item in request.session.items}
    every = {p.resolve() for p in (ROOT / "tests").rglob("test_*.py")}
    return every <= ran


@pytest.mark.after_suite
def test_each_kind_declares_every_action_it_uses(aws_call_audit: CallAudit) -> None:
    used = _by_origin(aws_call_audit)
    missing = {
        cls.name: sorted(used[cls.name] - set(cls.iam_actions))
        for cls in KIND_CLASSES
        if used[cls.name] - set(cls.iam_actions)
    }
    assert not missing, f"kinds call AWS operations their iam_actions do not declare: {missing}"


@pytest.mark.after_suite
def test_operator_uses_only_its_declared_actions(aws_call_audit: CallAudit) -> None:
    used = _by_origin(aws_call_audit)["operator"]
    assert used <= set(operator_actions(events=True)), used - set(operator_actions(events=True))


@pytest.mark.after_suite
def test_policy_allows_every_recorded_call(aws_call_audit: CallAudit) -> None:
    recorded = _recorded(aws_call_audit)
    allowed = allowed_actions(_policy())
    assert not recorded - allowed, f"denied by the generated policy: {sorted(recorded - allowed)}"


@pytest.mark.after_suite
def test_policy_allows_nothing_unused(
    aws_call_audit: CallAudit, request: pytest.FixtureRequest
) -> None:
    """Needs the whole suite: a subset cannot tell an unused action from an untested one."""
    used_by = _by_origin(aws_call_audit)
    # A kind whose own test module ran must have used every action it declares.
    modules = {Path(str(item.path)).stem for item in request.session.items}
    unused = {
        cls.name: sorted(set(cls.iam_actions) - used_by[cls.name])
        for cls in KIND_CLASSES
        if f"test_{cls.name}" in modules and set(cls.iam_actions) - used_by[cls.name]
    }
    assert not unused, f"declared but never used by the suite: {unused}"
    if not _whole_suite_ran(request):
        pytest.skip("the whole-policy check needs the whole suite (`pytest`), not a subset")
    unused_all = allowed_actions(_policy()) - _recorded(aws_call_audit)
    assert not unused_all, f"allowed but never used by the suite: {sorted(unused_all)}"
