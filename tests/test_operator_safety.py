"""`stackop run` safety rules end to end: invalid specs, the mass-deletion guard, orphaning.

Real processes: moto_server, `stackop run`, the AWS CLI (pushes and out-of-band drift).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_stackop
from tests.operator_harness import (
    Operator,
    aws,
    converged,
    has_ingress_port,
    make_bucket,
    network_only,
    open_port_out_of_band,
    owned_groups,
    push_text,
    series,
    spec_text,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
STACK = "portal-safety"
KEY = "specs/safety.yaml"


@pytest.fixture
def operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=5)
    yield op
    op.kill()


def small_portal(spec: dict[str, Any]) -> None:
    """The portal without database and CDN, and four services: quick to converge on moto."""
    for section in ("database", "frontend", "cdn"):
        spec[section]["enabled"] = False
    spec["services"] = spec["services"][:4]
    for svc in spec["services"]:
        svc.pop("usesDatabase", None)  # refused without a database


def services_removed(spec: dict[str, Any]) -> None:
    small_portal(spec)
    spec["services"] = []
    spec["loadBalancer"].pop("defaultService", None)


def add_drift(endpoint: str) -> None:
    open_port_out_of_band(endpoint, STACK, "alb", 2222, "203.0.113.9/32")


def drift_gone(endpoint: str) -> bool:
    return not has_ingress_port(owned_groups(endpoint, STACK, "alb")[0], 2222)


def ecs_services(endpoint: str, stack: str) -> list[str]:
    """ACTIVE services of the stack (moto keeps listing deleted ones as INACTIVE)."""
    clusters = aws(endpoint, "ecs", "list-clusters")["clusterArns"]
    active = []
    for arn in clusters:
        names = aws(endpoint, "ecs", "list-services", "--cluster", arn)["serviceArns"]
        if not names:
            continue
        described = aws(
            endpoint, "ecs", "describe-services", "--cluster", arn, "--services", *names
        )
        active += [
            s["serviceName"]
            for s in described["services"]
            if s["status"] == "ACTIVE" and stack in s["serviceArn"]
        ]
    return active


def test_invalid_spec_is_reported_and_the_last_valid_one_still_enforced(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    good = spec_text(STACK, small_portal)
    push_text(endpoint, BUCKET, KEY, good, tmp_path)
    m = wait_for(lambda: converged(operator, STACK), 120, "converged")
    (good_version,) = [lbl["version"] for lbl in series(m, "stackop_spec_info", stack=STACK)]
    resources_before = value(m, "stackop_resources", stack=STACK)

    lines = good.splitlines()
    (line_no,) = [i + 1 for i, line in enumerate(lines) if "natGateways:" in line]
    lines[line_no - 1] = lines[line_no - 1].replace("single", "sometimes")
    push_text(endpoint, BUCKET, KEY, "\n".join(lines) + "\n", tmp_path)

    def invalid() -> dict[str, Any] | None:
        doc = operator.status(STACK)
        conds = {c["type"]: c for c in doc.get("conditions", [])}
        return doc if conds.get("SpecInvalid", {}).get("status") == "True" else None

    doc = wait_for(invalid, 15, "SpecInvalid in /status")
    where = f"s3://{BUCKET}/{KEY}:{line_no}:"
    assert where in doc["specError"] and "spec.network.natGateways" in doc["specError"]
    assert doc["specVersion"] == good_version, "the last valid spec is still the one enforced"
    m = operator.metrics()
    assert value(m, "stackop_spec_errors_total", stack=STACK) >= 1
    assert value(m, "stackop_spec_invalid", stack=STACK) == 1
    assert value(m, "stackop_spec_info", stack=STACK, version=good_version) == 1
    logged = [e for e in operator.logs() if e.get("event") == "spec_invalid"]
    assert logged and logged[-1]["line"] == line_no
    assert logged[-1]["field"] == "spec.network.natGateways"

    # the good spec keeps being enforced: drift is still corrected, nothing is deleted
    add_drift(endpoint)
    wait_for(lambda: drift_gone(endpoint), 20, "drift corrected under the last valid spec")
    m = wait_for(lambda: converged(operator, STACK), 20, "back in sync")
    assert value(m, "stackop_resources", stack=STACK) == resources_before
    assert value(m, "stackop_actions_total", stack=STACK, action="delete") == 0
    assert value(m, "stackop_spec_invalid", stack=STACK) == 1

    # `stackop status` prints the stored status object as a table
    out = run_stackop("--bucket", BUCKET, "status", STACK, endpoint=endpoint, timeout=60)
    assert out.returncode == 0, out.stderr
    assert STACK in out.stdout and "spec invalid" in out.stdout and where in out.stdout


def test_mass_deletion_is_held_until_the_spec_raises_the_limit(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    push_text(endpoint, BUCKET, KEY, spec_text(STACK, small_portal), tmp_path)
    wait_for(lambda: converged(operator, STACK), 120, "converged")
    services_before = ecs_services(endpoint, STACK)
    assert len(services_before) == 4

    # all services removed by mistake
    push_text(endpoint, BUCKET, KEY, spec_text(STACK, services_removed), tmp_path)

    def held() -> dict[str, Any] | None:
        doc = operator.status(STACK)
        return doc if doc.get("held") else None

    doc = wait_for(held, 20, "deletions held")
    assert any("mass-deletion guard" in note for note in doc["held"])
    conds = {c["type"]: c for c in doc["conditions"]}
    assert conds["Synced"]["status"] == "False" and conds["Synced"]["reason"] == "Held"
    deleting = [r for r in doc["resources"] if r["state"] == "deleting"]
    assert len(deleting) > 10
    m = operator.metrics()
    assert value(m, "stackop_actions_held", stack=STACK) == len(doc["held"])
    runs = value(m, "stackop_reconcile_total", stack=STACK)
    wait_for(
        lambda: value(operator.metrics(), "stackop_reconcile_total", stack=STACK) >= runs + 2,
        15,
        "two more resyncs",
    )
    assert value(operator.metrics(), "stackop_actions_total", stack=STACK, action="delete") == 0
    assert sorted(ecs_services(endpoint, STACK)) == sorted(services_before)
    assert any(e.get("event") == "action_held" for e in operator.logs())

    def allowed(spec: dict[str, Any]) -> None:
        services_removed(spec)
        spec["safety"] = {"maxDeletions": 200}

    push_text(endpoint, BUCKET, KEY, spec_text(STACK, allowed), tmp_path)
    wait_for(lambda: not ecs_services(endpoint, STACK), 60, "services deleted once allowed")
    doc = wait_for(
        lambda: (d := operator.status(STACK)) and not d["held"] and d, 20, "nothing held"
    )
    m = operator.metrics()
    assert value(m, "stackop_actions_held", stack=STACK) == 0
    assert value(m, "stackop_actions_total", stack=STACK, action="delete", result="success") >= 4


def test_removed_spec_orphans_the_stack_and_deletes_nothing(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    push_text(endpoint, BUCKET, KEY, spec_text(STACK, network_only), tmp_path)
    wait_for(lambda: converged(operator, STACK), 60, "converged")
    aws(endpoint, "s3", "rm", f"s3://{BUCKET}/{KEY}")

    def orphaned() -> dict[str, Any] | None:
        doc = operator.status(STACK)
        return doc if doc.get("orphaned") else None

    doc = wait_for(orphaned, 15, "stack orphaned")
    assert {c["type"]: c["status"] for c in doc["conditions"]}["Orphaned"] == "True"
    m = operator.metrics()
    assert value(m, "stackop_stack_orphaned", stack=STACK) == 1
    assert value(m, "stackop_actions_total", stack=STACK, action="delete") == 0
    vpcs = aws(
        endpoint, "ec2", "describe-vpcs", "--filters", f"Name=tag:stackop:stack,Values={STACK}"
    )["Vpcs"]
    assert len(vpcs) == 1, "nothing deleted"
    stored = aws(endpoint, "s3", "cp", f"s3://{BUCKET}/status/{STACK}.json", "-")
    assert stored["orphaned"] is True
    lease = aws(endpoint, "s3", "cp", f"s3://{BUCKET}/leases/{STACK}.json", "-")
    assert lease["holder"] == "", "the orphaned stack's lease is released"


def test_teardown_deletes_the_stack_and_a_failing_stack_does_not_stop_the_others(
    operator: Operator, endpoint: str, tmp_path: Path
) -> None:
    def broken(spec: dict[str, Any]) -> None:
        small_portal(spec)
        spec["services"] = spec["services"][:1]
        # an HTTPS listener with a certificate that does not exist: every reconcile fails
        spec["loadBalancer"]["certificateArn"] = (
            "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
        )

    push_text(endpoint, BUCKET, "specs/broken.yaml", spec_text("broken", broken), tmp_path)
    push_text(endpoint, BUCKET, KEY, spec_text(STACK, network_only), tmp_path)
    wait_for(lambda: converged(operator, STACK), 60, "the healthy stack converged")
    doc = wait_for(
        lambda: (d := operator.status("broken")) and d.get("lastError") and d,
        60,
        "the broken stack reports its error",
    )
    assert {c["type"]: c["status"] for c in doc["conditions"]}["Synced"] == "False"
    assert value(operator.metrics(), "stackop_reconcile_total", stack="broken", result="error")

    def teardown(spec: dict[str, Any]) -> None:
        network_only(spec)
        spec["teardown"] = True

    push_text(endpoint, BUCKET, KEY, spec_text(STACK, teardown), tmp_path)

    def gone() -> bool:
        vpcs = aws(
            endpoint, "ec2", "describe-vpcs", "--filters", f"Name=tag:stackop:stack,Values={STACK}"
        )["Vpcs"]
        return not vpcs

    wait_for(gone, 90, "teardown deleted the VPC (and everything in it)")
    m = operator.metrics()
    assert value(m, "stackop_actions_total", stack=STACK, action="delete", result="success") >= 10
    assert value(m, "stackop_actions_held", stack=STACK) == 0
