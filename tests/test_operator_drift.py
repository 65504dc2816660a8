"""`stackop run` end to end: converge the portal, then find and correct drift made with awscli.

Real processes only: moto_server, `stackop run`, the AWS CLI; /metrics and /status are
read over HTTP. Drift in a target group or a log group is tested once those kinds are
rendered for the portal; until then those cases are skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.render import render
from controller.spec import load_spec_file
from tests.operator_harness import (
    PORTAL,
    PORTAL_NAME,
    Operator,
    aws,
    converged,
    has_ingress_port,
    make_bucket,
    network_only,
    open_port_out_of_band,
    owned_groups,
    push_text,
    spec_text,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
DRIFT_PORT = 2222


@pytest.fixture
def operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=5)
    yield op
    op.kill()


def rendered_kinds() -> set[str]:
    return {d.kind for d in render(load_spec_file(PORTAL).spec)}


def tagged_arns(endpoint: str, stack: str, resource_type: str) -> list[str]:
    reply = aws(
        endpoint,
        "resourcegroupstaggingapi",
        "get-resources",
        "--resource-type-filters",
        resource_type,
        "--tag-filters",
        f"Key=stackop:stack,Values={stack}",
    )
    return [r["ResourceARN"] for r in reply["ResourceTagMappingList"]]


# Each drift: (kind, inject -> check that returns True once the drift is gone)
Drift = Callable[[str], Callable[[], bool]]


def sg_rule_added(endpoint: str) -> Callable[[], bool]:
    open_port_out_of_band(endpoint, PORTAL_NAME, "alb", DRIFT_PORT, "203.0.113.7/32")
    assert has_ingress_port(owned_groups(endpoint, PORTAL_NAME, "alb")[0], DRIFT_PORT)
    return lambda: not has_ingress_port(owned_groups(endpoint, PORTAL_NAME, "alb")[0], DRIFT_PORT)


def health_check_path_changed(endpoint: str) -> Callable[[], bool]:
    arn = tagged_arns(endpoint, PORTAL_NAME, "elasticloadbalancing:targetgroup")[0]
    aws(
        endpoint,
        "elbv2",
        "modify-target-group",
        "--target-group-arn",
        arn,
        "--health-check-path",
        "/drifted",
    )

    def gone() -> bool:
        (tg,) = aws(endpoint, "elbv2", "describe-target-groups", "--target-group-arns", arn)[
            "TargetGroups"
        ]
        return bool(tg["HealthCheckPath"] != "/drifted")

    return gone


def log_retention_changed(endpoint: str) -> Callable[[], bool]:
    groups = aws(endpoint, "logs", "describe-log-groups")["logGroups"]
    mine = [
        g
        for g in groups
        if aws(
            endpoint,
            "logs",
            "list-tags-for-resource",
            "--resource-arn",
            g["arn"].removesuffix(":*"),
        )["tags"].get("stackop:stack")
        == PORTAL_NAME
    ]
    name = mine[0]["logGroupName"]
    aws(
        endpoint,
        "logs",
        "put-retention-policy",
        "--log-group-name",
        name,
        "--retention-in-days",
        "30",
    )

    def gone() -> bool:
        (g,) = [
            x
            for x in aws(endpoint, "logs", "describe-log-groups", "--log-group-name-prefix", name)[
                "logGroups"
            ]
            if x["logGroupName"] == name
        ]
        return bool(g.get("retentionInDays") != 30)

    return gone


DRIFTS: dict[str, tuple[str, Drift]] = {
    "security-group-rule": ("security_group", sg_rule_added),
    "target-group-health-check": ("target_group", health_check_path_changed),
    "log-group-retention": ("log_group", log_retention_changed),
}


def correct_drift(op: Operator, endpoint: str, kind: str, inject: Drift) -> None:
    before = op.metrics()
    corrected0 = value(before, "stackop_drift_corrected_total", stack=PORTAL_NAME, kind=kind)
    detected0 = value(before, "stackop_drift_detected_total", stack=PORTAL_NAME, kind=kind)
    gone = inject(endpoint)
    seen: list[float] = []

    def corrected() -> bool:
        m = op.metrics()
        seen.append(value(m, "stackop_drifted_resources", stack=PORTAL_NAME, kind=kind))
        return value(m, "stackop_drift_corrected_total", stack=PORTAL_NAME, kind=kind) > corrected0

    # within one resync (2 s) plus the reconcile itself
    wait_for(corrected, 15, f"{kind} drift corrected", every=0.1)
    after = op.metrics()
    assert value(after, "stackop_drift_detected_total", stack=PORTAL_NAME, kind=kind) > detected0

    # The gauge shows the drift as observed until the follow-up observe (1 s after the
    # correcting write) confirms it is gone.
    def gauge_seen() -> bool:
        m = op.metrics()
        seen.append(value(m, "stackop_drifted_resources", stack=PORTAL_NAME, kind=kind))
        return max(seen) >= 1

    wait_for(gauge_seen, 1, "drift gauge seen above 0", every=0.05)
    wait_for(gone, 10, f"{kind} out-of-band change reverted in AWS")
    wait_for(lambda: converged(op, PORTAL_NAME), 15, "drifted resources back to 0")
    drift_logs = [e for e in op.logs() if e.get("event") == "drift" and e.get("kind") == kind]
    assert drift_logs, "a drift log event names the stack, kind, resource and field"
    assert {"stack", "kind", "resource", "field", "reconcile_id"} <= set(drift_logs[-1])


def test_portal_converges_then_drift_is_detected_and_corrected(
    operator: Operator, endpoint: str
) -> None:
    aws(endpoint, "s3", "cp", str(PORTAL), f"s3://{BUCKET}/specs/portal.yaml")
    m = wait_for(lambda: converged(operator, PORTAL_NAME), 180, "the portal converged")
    assert value(m, "stackop_drifted_resources", stack=PORTAL_NAME) == 0
    assert value(m, "stackop_reconcile_total", stack=PORTAL_NAME, result="success") >= 1
    assert value(m, "stackop_lease_held", stack=PORTAL_NAME) == 1
    assert value(m, "stackop_actions_total", stack=PORTAL_NAME, action="create") > 0
    doc = operator.status(PORTAL_NAME)
    conditions = {c["type"]: c["status"] for c in doc["conditions"]}
    assert conditions["Ready"] == "True" and conditions["Drifted"] == "False"
    assert doc["resources"] and all(r["state"] == "in_sync" for r in doc["resources"])

    kinds = rendered_kinds()
    missing = []
    for label, (kind, inject) in DRIFTS.items():
        if kind not in kinds:
            missing.append(label)
            continue
        correct_drift(operator, endpoint, kind, inject)
    # status object in S3 (written when it changes) reflects the converged state
    stored = aws(endpoint, "s3", "cp", f"s3://{BUCKET}/status/{PORTAL_NAME}.json", "-")
    assert stored["stack"] == PORTAL_NAME and stored["holder"] == "op"
    if missing:
        pytest.skip(f"kinds not rendered for the portal yet, drift not tested: {missing}")


def test_observe_mode_reports_drift_and_paused_makes_no_write(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    def mode(value_: str, paused: bool = False) -> Callable[[dict[str, Any]], None]:
        def edit(spec: dict[str, Any]) -> None:
            network_only(spec)
            spec["mode"] = value_
            spec["paused"] = paused

        return edit

    key = "specs/portal.yaml"
    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, mode("enforce")), tmp_path)
    wait_for(lambda: converged(operator, PORTAL_NAME), 60, "converged")

    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, mode("observe")), tmp_path)
    wait_for(
        lambda: (
            value(operator.metrics(), "stackop_stack_mode", stack=PORTAL_NAME, mode="observe") == 1
        ),
        10,
        "observe mode",
    )
    gone = sg_rule_added(endpoint)
    m = wait_for(
        lambda: (
            (x := operator.metrics())
            and value(x, "stackop_drifted_resources", stack=PORTAL_NAME, kind="security_group") >= 1
            and x
        ),
        15,
        "drift reported in observe mode",
    )
    fields = [
        s for s in m if s[0] == "stackop_drifted_fields" and ("kind", "security_group") in s[1]
    ]
    assert fields, "the drifted field is exported"
    runs = value(m, "stackop_reconcile_total", stack=PORTAL_NAME)
    wait_for(
        lambda: value(operator.metrics(), "stackop_reconcile_total", stack=PORTAL_NAME) >= runs + 2,
        15,
        "two more resyncs",
    )
    assert not gone(), "observe mode left the drift as it is"
    assert value(operator.metrics(), "stackop_drift_corrected_total", stack=PORTAL_NAME) == 0
    doc = operator.status(PORTAL_NAME)
    assert {c["type"]: c["status"] for c in doc["conditions"]}["Drifted"] == "True"

    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, mode("enforce", True)), tmp_path)
    wait_for(
        lambda: value(operator.metrics(), "stackop_stack_paused", stack=PORTAL_NAME) == 1,
        10,
        "paused visible in metrics",
    )
    mark = len(operator.calls())
    runs = value(operator.metrics(), "stackop_reconcile_total", stack=PORTAL_NAME)
    wait_for(
        lambda: value(operator.metrics(), "stackop_reconcile_total", stack=PORTAL_NAME) >= runs + 2,
        15,
        "two resyncs while paused",
    )
    writes = [
        c
        for c in operator.calls()[mark:]
        if c["service"] != "s3" and not c["operation"].startswith(("Describe", "List", "Get"))
    ]
    assert writes == [], f"paused stack made write calls: {writes}"
    assert not gone(), "paused: the drift is still there"
    assert value(operator.metrics(), "stackop_drifted_resources", stack=PORTAL_NAME) >= 1

    push_text(endpoint, BUCKET, key, spec_text(PORTAL_NAME, mode("enforce")), tmp_path)
    wait_for(gone, 15, "drift corrected once unpaused")
