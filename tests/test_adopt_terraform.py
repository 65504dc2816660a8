"""Take over the portal Terraform built (../shared/terraform-portal/), against moto.

Real Terraform and the real provider apply the portal once for the module (~100 s) on a
moto server of its own (the README's shim: moto plus the Application Auto Scaling tag
calls the provider needs). Then: `stackop plan` reports the taken names and `apply`
refuses without a write; `stackop adopt --from-terraform` only tags; the operator
converges the adopted stack in place (one VPC, the same database, one ALB, 9 services)
and corrects an injected drift.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.terraform_portal import (
    DEFAULT_MIRROR,
    applied_portal,
    default_terraform_dir,
    managed_resources,
    provider_dir,
    terraform,
)
from tests.aws import client
from tests.conftest import ROOT, run_stackop
from tests.operator_harness import Operator, converged, make_bucket, push_text, value, wait_for

TERRAFORM_DIR = default_terraform_dir()
PROVIDER_MIRROR = DEFAULT_MIRROR
PROVIDER = provider_dir(PROVIDER_MIRROR)
SPEC = ROOT / "tests" / "specs" / "terraform-portal.yaml"
STACK = "cop"
READ_PREFIXES = ("Describe", "List", "Get", "Head")
TAG_WRITES = {
    "CreateTags",
    "AddTagsToResource",
    "TagResource",
    "TagRole",
    "AddTags",
    "PutBucketTagging",
}

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None or not PROVIDER.is_dir() or not TERRAFORM_DIR.is_dir(),
    reason="needs terraform on PATH, the hashicorp/aws 5.100.0 provider in a filesystem "
    f"mirror ({PROVIDER_MIRROR}) and ../shared/terraform-portal (see its README)",
)


@dataclass
class Portal:
    endpoint: str
    state: Path
    spec: Path
    workdir: Path
    db_created: Any
    secret_arn: str


def _terraform(workdir: Path, *args: str) -> str:
    return terraform(workdir, PROVIDER_MIRROR, *args)


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    workdir = Path(tempfile.mkdtemp(prefix="adopt-tf-"))
    try:
        with applied_portal(TERRAFORM_DIR, PROVIDER_MIRROR, workdir) as applied:
            resources = managed_resources(json.loads(applied.state.read_text()))
            secret = next(r for r in resources if r["type"] == "aws_secretsmanager_secret")
            db = client("rds", applied.endpoint).describe_db_instances()["DBInstances"]
            assert [d["DBInstanceIdentifier"] for d in db] == ["cop-postgres"]
            spec = workdir / "cop.yaml"
            spec.write_text(_spec_with_secret(secret["values"]["arn"]))
            yield Portal(
                applied.endpoint,
                applied.state,
                spec,
                workdir,
                db[0]["InstanceCreateTime"],
                secret["values"]["arn"],
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _spec_with_secret(secret_arn: str) -> str:
    """The committed spec plus what only this Terraform run knows: the secret's ARN."""
    doc = yaml.safe_load(SPEC.read_text())
    for svc in doc["spec"]["services"]:
        svc["secrets"] = {"DB_CREDENTIALS": secret_arn}
    return yaml.safe_dump(doc, sort_keys=False)


def _calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _writes(log: Path) -> list[str]:
    return [c["operation"] for c in _calls(log) if not c["operation"].startswith(READ_PREFIXES)]


def _untouched(out: str) -> list[str]:
    """The addresses the adoption plan lists as not described by the spec."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  untouched, "))
    found: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        found.append(line.strip())
    return found


def _counts(endpoint: str) -> dict[str, Any]:
    ec2, rds = client("ec2", endpoint), client("rds", endpoint)
    elb, ecs = client("elbv2", endpoint), client("ecs", endpoint)
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    services: list[str] = []
    for cluster in ecs.list_clusters()["clusterArns"]:
        services += ecs.list_services(cluster=cluster)["serviceArns"]
    return {
        "vpcs": [v["VpcId"] for v in vpcs],
        "dbs": [
            (d["DBInstanceIdentifier"], d["InstanceCreateTime"])
            for d in rds.describe_db_instances()["DBInstances"]
        ],
        "albs": [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]],
        "services": sorted(s.rsplit("/", 1)[-1] for s in services),
        "clusters": ecs.list_clusters()["clusterArns"],
    }


def test_terraform_portal_is_adopted_in_place_and_kept_converged(
    portal: Portal, tmp_path: Path
) -> None:
    endpoint, spec = portal.endpoint, str(portal.spec)
    before = _counts(endpoint)
    assert len(before["services"]) == 9 and before["albs"] == ["cop-alb"]

    # 1. the plan names every taken name; apply refuses before any write
    plan = run_stackop("plan", spec, endpoint=endpoint)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "! taken: db_instance/main cop-postgres (untagged, created " in plan.stdout
    assert "! taken: load_balancer/main cop-alb (untagged, created " in plan.stdout
    assert "! taken: ecs_cluster/main cop-cluster (untagged)" in plan.stdout
    log = tmp_path / "apply.calls.jsonl"
    refused = run_stackop(
        "apply",
        spec,
        "--no-lease",
        "--auto-approve",
        endpoint=endpoint,
        env={"STACKOP_CALL_LOG": str(log)},
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "apply refuses to start" in refused.stderr
    assert _writes(log) == []
    assert _counts(endpoint) == before

    # 2. adoption: the plan first (nothing written), then tags only, one call a resource
    log = tmp_path / "adopt.calls.jsonl"
    started = time.monotonic()
    adopted = run_stackop(
        "adopt",
        spec,
        "--from-terraform",
        str(portal.state),
        "--auto-approve",
        endpoint=endpoint,
        env={"STACKOP_CALL_LOG": str(log)},
    )
    wall = time.monotonic() - started
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    out = adopted.stdout
    print(out.splitlines()[-3:], f"adoption wall time {wall:.1f}s")
    assert "~ adopt db_instance/main arn:aws:rds:us-east-1:123456789012:db:cop-postgres" in out
    assert "~ adopt ecs_cluster/main arn:aws:ecs:" in out
    assert "~ adopt metric_alarm/gateway-cpu-high arn:aws:cloudwatch:" in out
    assert "Field updates the next apply makes on adopted resources:" in out
    assert "! held" not in out  # nothing would be replaced: the spec describes Terraform's
    assert 'module.service["gateway"].aws_iam_role.execution' in out  # untouched, listed
    tagged = [
        line
        for line in out.splitlines()
        if line.startswith("  ~ adopt ") and "(no tag call" not in line
    ]
    writes = _writes(log)
    assert set(writes) <= TAG_WRITES, writes
    assert len(writes) == len(tagged) >= 60  # one tag call per tagged resource
    assert _counts(endpoint) == before  # adoption created, changed and deleted nothing

    # Terraform forgets what was adopted (and the routes, associations ... folded into it);
    # what the spec does not describe stays Terraform's
    adopted_json = run_stackop(
        "adopt", spec, "--from-terraform", str(portal.state), "--json", endpoint=endpoint
    )
    forget = json.loads(adopted_json.stdout)["terraformStateRm"]
    assert forget == []  # already adopted: nothing more to forget
    marker = "  terraform state rm "
    rm_line = next(line for line in out.splitlines() if line.startswith(marker))
    addresses = [a.strip("'") for a in rm_line[len(marker) :].split("' '")]
    assert "aws_db_instance.main" in addresses and "aws_route.public_default" in addresses
    assert 'module.service["gateway"].aws_iam_role_policy.execution' not in addresses
    _terraform(portal.workdir, "state", "rm", *addresses)
    left = set(_terraform(portal.workdir, "state", "list").split())
    assert left == set(_untouched(out)), left ^ set(_untouched(out))
    assert any(".aws_iam_role.execution" in a for a in left)  # Terraform's, at path /

    # 3. the operator converges the adopted stack in place and corrects drift
    bucket = "adopt-specs"
    make_bucket(endpoint, bucket)
    push_text(endpoint, bucket, f"specs/{STACK}.yaml", portal.spec.read_text(), tmp_path)
    op = Operator(endpoint, bucket, tmp_path, "adopter").start(resync=2, poll=1)
    try:
        wait_for(lambda: converged(op, STACK), 180, "adopted stack converged")
        after = _counts(endpoint)
        assert after["vpcs"] == before["vpcs"]
        assert after["dbs"] == [("cop-postgres", portal.db_created)]
        assert after["albs"] == ["cop-alb"]
        assert after["services"] == before["services"]
        assert after["clusters"] == before["clusters"]

        elb = client("elbv2", endpoint)
        tg = elb.describe_target_groups(Names=["cop-gateway"])["TargetGroups"][0]
        elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/drifted")

        def corrected() -> bool:
            live = elb.describe_target_groups(Names=["cop-gateway"])["TargetGroups"][0]
            m = op.metrics()
            return (
                live["HealthCheckPath"] == "/health"
                and value(m, "stackop_drift_corrected_total", stack=STACK, kind="target_group") >= 1
            )

        wait_for(corrected, 60, "drifted target group corrected")
    finally:
        op.stop()
    clean = run_stackop("plan", spec, endpoint=endpoint)
    assert clean.returncode == 0, clean.stdout
    assert _counts(endpoint)["dbs"] == [("cop-postgres", portal.db_created)]
