"""The operator's generated IAM policy: its shape, and least privilege proven by the suite.

The `after_suite` tests compare the policy with every AWS operation the session made
(tests/conftest.py `aws_call_audit`). moto does not evaluate IAM conditions, so the
scoping (tag conditions, resource ARNs) is checked on the document itself.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bootstrap.actions import actions_for, actions_for_calls, is_read
from bootstrap.policy import (
    Target,
    allowed_actions,
    execution_role_policy,
    operator_actions,
    task_role_policy,
)
from controller.engine.resource import OWNER_TAG
from controller.kinds import KIND_CLASSES, iam_actions, implied_iam_actions
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


def test_calls_made_on_our_behalf_carry_no_tag_condition() -> None:
    """RDS creates the managed password's secret and Cloud Map the namespace's hosted
    zone with their own tags; a tag condition there would deny the operator."""
    stmts = _statements(_policy())
    conditioned = {a for s in stmts.values() if "Condition" in s for a in s["Action"]}
    declared = {a for acts in iam_actions().values() for a in acts}
    on_behalf = {
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "route53:CreateHostedZone",
        "iam:CreateServiceLinkedRole",
    }
    assert not (on_behalf & declared) & conditioned


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
    # adoption and its collision pre-flight run in the CLI with the user's credentials
    calls = [
        (s, o) for s, o, origin in audit.inprocess + audit.subprocess_calls() if origin != "adopt"
    ]
    return actions_for_calls(calls)


def _by_origin(audit: CallAudit) -> dict[str, set[str]]:
    """Actions by the kind (or "operator") that used them, in this process or a child."""
    out: dict[str, set[str]] = defaultdict(set)
    for service, op, origin in audit.inprocess + audit.subprocess_calls():
        out[origin].update(actions_for(service, op))
    return out


def _whole_suite_ran(request: pytest.FixtureRequest) -> bool:
    ran = {Path(str(item.path)).resolve() for item in request.session.items}
    every = {p.resolve() for p in (ROOT / "tests").rglob("test_*.py")}
    return every <= ran


@pytest.mark.after_suite
def test_each_kind_declares_every_action_it_uses(aws_call_audit: CallAudit) -> None:
    used = _by_origin(aws_call_audit)
    # An operation may need implied permissions too (RegisterTaskDefinition -> PassRole).
    declared = {cls.name: set(cls.iam_actions) | set(cls.iam_implied) for cls in KIND_CLASSES}
    missing = {
        cls.name: sorted(used[cls.name] - declared[cls.name])
        for cls in KIND_CLASSES
        if used[cls.name] - declared[cls.name]
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
    unused_all = allowed_actions(_policy()) - _recorded(aws_call_audit) - implied_iam_actions()
    assert not unused_all, f"allowed but never used by the suite: {sorted(unused_all)}"


# --- checked against AWS's published IAM definitions (parliament's iam_definition.json) ---


def _iam_definitions() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("parliament")
    if spec is None or spec.origin is None:
        pytest.skip("parliament (dev extra) not installed")
    data = json.loads((Path(spec.origin).parent / "iam_definition.json").read_text())
    return {service["prefix"]: service for service in data}


def _privilege(defs: dict[str, dict[str, Any]], action: str) -> dict[str, Any] | None:
    prefix, _, name = action.partition(":")
    service = defs.get(prefix, {"privileges": []})
    found = [p for p in service["privileges"] if p["privilege"].lower() == name.lower()]
    return found[0] if found else None


def _condition_missing(defs: dict[str, dict[str, Any]], action: str, key: str) -> list[str]:
    """Resource types of `action` (the required ones, else all) where `key` does not apply."""
    service = defs[action.partition(":")[0]]
    privilege = _privilege(defs, action)
    assert privilege is not None
    resources = {r["resource"]: r for r in service["resources"]}
    general = {
        k
        for rt in privilege["resource_types"]
        if not rt["resource_type"]
        for k in rt["condition_keys"]
    }
    base = key.split("/")[0].lower()
    missing = []
    typed = [rt for rt in privilege["resource_types"] if rt["resource_type"]]
    required = [rt for rt in typed if rt["resource_type"].endswith("*")]
    for rt in required or typed or [{"resource_type": "", "condition_keys": []}]:
        keys = set(rt["condition_keys"]) | general
        keys |= set(resources.get(rt["resource_type"].rstrip("*"), {}).get("condition_keys", []))
        if not any(k.split("/")[0].lower() == base for k in keys):
            missing.append(rt["resource_type"] or "(action)")
    return missing


def _all_documents() -> list[dict[str, Any]]:
    return [
        _policy(),
        execution_role_policy(
            TARGET,
            "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/stackop",
            "arn:aws:ecr:us-east-1:123456789012:repository/stackop",
        ),
    ]


def test_every_action_exists_in_aws_iam() -> None:
    defs = _iam_definitions()
    unknown = sorted(
        {a for doc in _all_documents() for a in allowed_actions(doc) if not _privilege(defs, a)}
    )
    owners = {a: [k for k, acts in iam_actions().items() if a in acts] for a in unknown}
    assert not unknown, f"not IAM actions (declared by {owners}); use the IAM action names"


def test_every_tag_condition_applies_to_its_actions() -> None:
    """A condition key an action does not support makes the statement never match: the
    operator would be denied. Each conditioned action must support its key."""
    defs = _iam_definitions()
    wrong = []
    for stmt in _policy()["Statement"]:
        keys = [k for op in stmt.get("Condition", {}).values() for k in op]
        for action in stmt["Action"]:
            if _privilege(defs, action) is None:
                continue  # reported by test_every_action_exists_in_aws_iam
            for key in keys:
                if missing := _condition_missing(defs, action, key):
                    wrong.append(f"{stmt['Sid']}: {action} has no {key} on {missing}")
    assert not wrong, wrong
