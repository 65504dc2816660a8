"""Issue 3, data and edge end to end: RDS, ALB, S3 frontend and CloudFront with the real
`stackop` CLI against moto in server mode. Out-of-band changes use an independent
boto3 client (tests/aws.py), as an operator with the AWS CLI would.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.aws import client
from tests.conftest import ROOT, run_stackop

PORTAL = ROOT / "specs" / "portal.yaml"
STACK = "customer-order-portal-production"
DB_ID = f"{STACK}-db"
DONE_LINE = re.compile(r"^  (create|update|replace|delete) +(\S+/\S+) done")
APPLY_FLAGS = ("--no-lease", "--auto-approve")
"""No operator runs in these tests (no bucket); some edits delete resources on purpose."""
DATA_EDGE = (
    "db_subnet_group",
    "db_instance",
    "load_balancer",
    "target_group",
    "listener",
    "listener_rule",
    "frontend_bucket",
    "bucket_policy",
    "origin_access_control",
    "distribution",
)


# ---------------------------------------------------------------- helpers


def write_spec(tmp_path: Path, name: str = "spec.yaml", **changes: Any) -> Path:
    """The portal spec with `changes` applied (dotted camelCase paths under `spec`)."""
    doc = yaml.safe_load(PORTAL.read_text())
    for dotted, value in changes.items():
        node = doc["spec"]
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def apply_ok(spec: Path, endpoint: str, **kw: Any) -> str:
    out = run_stackop("apply", *APPLY_FLAGS, str(spec), endpoint=endpoint, **kw)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def plan_json(spec: Path, endpoint: str) -> dict[str, Any]:
    out = run_stackop("plan", "--json", str(spec), endpoint=endpoint)
    assert out.returncode in (0, 2), out.stderr
    return dict(json.loads(out.stdout))


def changes_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`kind/logical-id` -> {field: (old, new)} for every action with field changes."""
    return {
        f"{a['kind']}/{a['logicalId']}": {c["field"]: (c["old"], c["new"]) for c in a["changes"]}
        for a in plan["actions"]
        if a["changes"]
    }


def actions_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{a['kind']}/{a['logicalId']}": a for a in plan["actions"]}


def moto_api(endpoint: str, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/{path}",
        data=json.dumps(body).encode(),
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture
def slow_cloudfront(endpoint: str, request: pytest.FixtureRequest) -> Iterator[int]:
    """Distributions take this many seconds (default 8) to deploy (moto's state manager).

    /moto-api/reset does not clear transitions, so the fixture unsets it afterwards.
    """
    seconds = int(getattr(request, "param", 8))
    moto_api(
        endpoint,
        "set-transition",
        {
            "model_name": "cloudfront::distribution",
            "transition": {"progression": "time", "seconds": seconds},
        },
    )
    try:
        yield seconds
    finally:
        moto_api(endpoint, "unset-transition", {"model_name": "cloudfront::distribution"})


def distribution_of(endpoint: str) -> dict[str, Any]:
    cf = client("cloudfront", endpoint)
    items = cf.list_distributions()["DistributionList"].get("Items", [])
    assert len(items) == 1, items
    got = cf.get_distribution(Id=items[0]["Id"])
    return dict(got["Distribution"])


# ---------------------------------------------------------------- convergence


def test_portal_data_and_edge_converge_from_empty(endpoint: str) -> None:
    out = apply_ok(PORTAL, endpoint)
    created = {m.group(2) for line in out.splitlines() if (m := DONE_LINE.match(line))}
    for kind in DATA_EDGE:
        assert any(key.startswith(f"{kind}/") for key in created), (kind, out)

    plan = run_stackop("plan", str(PORTAL), endpoint=endpoint)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout

    rds = client("rds", endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    assert db["DBInstanceClass"] == "db.t4g.micro" and db["EngineVersion"] == "15.4"
    assert db["StorageEncrypted"] and db["DeletionProtection"]
    assert db["BackupRetentionPeriod"] == 7 and not db["PubliclyAccessible"]
    assert db["MasterUserSecret"]["SecretArn"]  # the password lives in Secrets Manager
    assert len(db["DBSubnetGroup"]["Subnets"]) == 2

    elb = client("elbv2", endpoint)
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    assert lb["Scheme"] == "internet-facing"
    groups = elb.describe_target_groups()["TargetGroups"]
    assert len(groups) == 9 and {g["TargetType"] for g in groups} == {"ip"}
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    priorities = sorted(r["Priority"] for r in rules if not r["IsDefault"])
    assert priorities == sorted(["1000", "110", "120", "130", "140", "150", "160", "170", "180"])

    s3 = client("s3", endpoint)
    bucket = f"{STACK}-frontend"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    dist = distribution_of(endpoint)
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Condition"]["StringEquals"]["AWS:SourceArn"] for s in allow] == [dist["ARN"]]
    config = dist["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    api = config["CacheBehaviors"]["Items"][0]
    assert api["PathPattern"] == "/api/*" and len(api["AllowedMethods"]["Items"]) == 7
    origins = {o["Id"]: o["DomainName"] for o in config["Origins"]["Items"]}
    assert origins["api"] == lb["DNSName"] and origins["frontend"].startswith(bucket)
    # Deterministic CallerReference: stack + logical id + spec version, hashed.
    assert re.fullmatch(r"[0-9a-f]{64}", config["CallerReference"])


# ---------------------------------------------------------------- slow CloudFront


def test_slow_distribution_does_not_hold_back_the_rest(endpoint: str, slow_cloudfront: int) -> None:
    started = time.monotonic()
    out = apply_ok(PORTAL, endpoint)
    elapsed = time.monotonic() - started
    order = [m.group(2) for line in out.splitlines() if (m := DONE_LINE.match(line))]
    print("order of completions:\n  " + "\n  ".join(order))

    # Everything else was created while the distribution was still deploying: when
    # apply returned, CloudFront had not finished, yet every other resource existed.
    status = distribution_of(endpoint)["Status"]
    assert status == "InProgress", (status, elapsed)
    assert elapsed < slow_cloudfront + 30
    position = order.index("distribution/main")
    later = order[position + 1 :]
    assert later, "resources completed after the distribution's create returned"
    assert any(key.startswith("ecs_service/") for key in later) or len(later) > 10, order
    assert len(order) == len(set(order)) and len(order) > 100

    # A later reconcile picks up the half-finished distribution without recreating it.
    plan = run_stackop("plan", "--json", str(PORTAL), endpoint=endpoint)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert json.loads(plan.stdout)["inSync"]
    assert distribution_of(endpoint)["Status"] == "InProgress"
    time.sleep(slow_cloudfront + 1)
    assert distribution_of(endpoint)["Status"] == "Deployed"
    assert run_stackop("plan", str(PORTAL), endpoint=endpoint).returncode == 0


# ---------------------------------------------------------------- drift


def _drift_everything(endpoint: str) -> dict[str, Any]:
    """Change the live stack behind the operator's back; returns what was changed."""
    elb = client("elbv2", endpoint)
    groups = elb.describe_target_groups()["TargetGroups"]
    order_tg = next(g for g in groups if g["Port"] == 8001)  # the order service
    elb.modify_target_group(TargetGroupArn=order_tg["TargetGroupArn"], HealthCheckPath="/oops")
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    rule = next(
        r
        for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
        if r["Priority"] == "120"
    )
    elb.modify_rule(
        RuleArn=rule["RuleArn"],
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/hijacked/*"]}}],
    )
    client("rds", endpoint).modify_db_instance(
        DBInstanceIdentifier=DB_ID,
        BackupRetentionPeriod=1,
        DBInstanceClass="db.t4g.large",
        ApplyImmediately=True,
    )
    s3 = client("s3", endpoint)
    bucket = f"{STACK}-frontend"
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    rogue = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Public",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(rogue))
    cf = client("cloudfront", endpoint)
    dist_id = cf.list_distributions()["DistributionList"]["Items"][0]["Id"]
    current = cf.get_distribution_config(Id=dist_id)
    config = current["DistributionConfig"]
    config["Comment"] = "changed by hand"
    config["DefaultCacheBehavior"]["DefaultTTL"] = 60
    cf.update_distribution(Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config)
    return {"rogue_policy": rogue}


def test_out_of_band_drift_is_reported_and_corrected(endpoint: str) -> None:
    apply_ok(PORTAL, endpoint)
    _drift_everything(endpoint)

    plan = plan_json(PORTAL, endpoint)
    changes = changes_of(plan)
    print(json.dumps(changes, indent=1, default=str))
    assert changes["target_group/order"]["health_check.path"] == ("/oops", "/health")
    old, new = changes["listener_rule/customer"]["paths"]
    assert old == ["/hijacked/*"] and sorted(new) == ["/api/customers", "/api/customers/*"]
    db = changes["db_instance/main"]
    assert db["backup_retention_days"] == (1, 7)
    assert db["instance_class"] == ("db.t4g.large", "db.t4g.micro")
    pab = changes["frontend_bucket/main"]
    assert pab["public_access_block.block_public_policy"] == (False, True)
    assert pab["public_access_block.restrict_public_buckets"] == (False, True)
    policy_old, policy_new = next(
        v for k, v in changes["bucket_policy/frontend"].items() if k.startswith("policy")
    )
    assert "Public" in json.dumps(policy_old) and "AllowCloudFrontRead" in json.dumps(policy_new)
    cdn = changes["distribution/main"]
    assert cdn["comment"] == ("changed by hand", "Customer Order Portal frontend")
    assert cdn["default_ttl"] == (60, 3600)
    # The text plan shows the same field, old and new value.
    text = run_stackop("plan", str(PORTAL), endpoint=endpoint).stdout
    assert 'comment: "changed by hand" -> "Customer Order Portal frontend"' in text
    assert "backup_retention_days: 1 -> 7" in text

    apply_ok(PORTAL, endpoint)
    again = run_stackop("plan", str(PORTAL), endpoint=endpoint)
    assert again.returncode == 0, again.stdout
    (live,) = client("rds", endpoint).describe_db_instances(DBInstanceIdentifier=DB_ID)[
        "DBInstances"
    ]
    assert live["BackupRetentionPeriod"] == 7 and live["DBInstanceClass"] == "db.t4g.micro"
    block = client("s3", endpoint).get_public_access_block(Bucket=f"{STACK}-frontend")
    assert all(block["PublicAccessBlockConfiguration"].values())


# ---------------------------------------------------------------- deletion policies


def _small(tmp_path: Path, name: str, **database: Any) -> Path:
    """The portal with two services (faster) and the given database settings."""
    doc_services = yaml.safe_load(PORTAL.read_text())["spec"]["services"][:2]
    changes = {f"database__{k}": v for k, v in database.items()}
    return write_spec(tmp_path, name, services=doc_services, **changes)


def test_teardown_with_snapshot_keeps_the_snapshot_the_plan_named(
    endpoint: str, tmp_path: Path
) -> None:
    spec = _small(tmp_path, "up.yaml", deletionPolicy="snapshot", deletionProtection=True)
    apply_ok(spec, endpoint)
    down = _small(tmp_path, "down.yaml", deletionPolicy="snapshot", deletionProtection=True)
    doc = yaml.safe_load(down.read_text())
    doc["spec"]["teardown"] = True
    down.write_text(yaml.safe_dump(doc, sort_keys=False))

    plan = run_stackop("plan", str(down), endpoint=endpoint)
    match = re.search(r"note: final snapshot (\S+), then delete", plan.stdout)
    assert match, plan.stdout
    snapshot = match.group(1)
    assert snapshot.startswith(f"{DB_ID}-final-")

    out = run_stackop("apply", *APPLY_FLAGS, str(down), endpoint=endpoint)
    print(out.stdout[-3000:], out.stderr[-2000:])
    rds = client("rds", endpoint)
    assert not rds.describe_db_instances()["DBInstances"]
    snaps = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snaps] == [snapshot]


def test_teardown_with_retain_leaves_the_database(endpoint: str, tmp_path: Path) -> None:
    spec = _small(tmp_path, "up.yaml", deletionPolicy="retain")
    apply_ok(spec, endpoint)
    doc = yaml.safe_load(spec.read_text())
    doc["spec"]["teardown"] = True
    down = tmp_path / "down.yaml"
    down.write_text(yaml.safe_dump(doc, sort_keys=False))

    plan = plan_json(down, endpoint)
    action = actions_of(plan)["db_instance/main"]
    assert action["action"] == "retain" and "left running" in action["note"]
    # What the retained database uses is kept as well (AWS would refuse to delete it).
    kept = {k: a["note"] for k, a in actions_of(plan).items() if a["action"] == "retain"}
    for key in ("db_subnet_group/main", "security_group/database", "vpc/main"):
        assert kept[key].startswith("kept: retained db_instance/main"), kept
    assert actions_of(plan)["load_balancer/main"]["action"] == "delete"
    out = run_stackop("apply", *APPLY_FLAGS, str(down), endpoint=endpoint)
    assert out.returncode == 0, out.stdout + out.stderr
    rds = client("rds", endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    assert db["DBInstanceStatus"] == "available"
    group = db["DBSubnetGroup"]["DBSubnetGroupName"]
    assert rds.describe_db_subnet_groups(DBSubnetGroupName=group)["DBSubnetGroups"]
    sg = db["VpcSecurityGroups"][0]["VpcSecurityGroupId"]
    assert client("ec2", endpoint).describe_security_groups(GroupIds=[sg])["SecurityGroups"]
    assert not client("elbv2", endpoint).describe_load_balancers()["LoadBalancers"]
    manual = client("rds", endpoint).describe_db_snapshots(SnapshotType="manual")
    assert not manual["DBSnapshots"]


def test_delete_policy_with_protection_on_is_refused(endpoint: str, tmp_path: Path) -> None:
    # Validation already refuses `deletionPolicy: delete` with `deletionProtection: true`
    # in one spec; here protection is turned on out of band, then the database leaves
    # the spec: the policy recorded in its tags applies, and the live protection holds.
    spec = _small(tmp_path, "up.yaml", deletionPolicy="delete", deletionProtection=False)
    apply_ok(spec, endpoint)
    client("rds", endpoint).modify_db_instance(
        DBInstanceIdentifier=DB_ID, DeletionProtection=True, ApplyImmediately=True
    )
    doc = yaml.safe_load(spec.read_text())
    doc["spec"]["database"]["enabled"] = False
    for svc in doc["spec"]["services"]:
        svc.pop("usesDatabase", None)  # refused without a database
    gone = tmp_path / "gone.yaml"
    gone.write_text(yaml.safe_dump(doc, sort_keys=False))

    plan = plan_json(gone, endpoint)
    action = actions_of(plan)["db_instance/main"]
    assert action["action"] == "delete"
    assert "deletion protection is on" in action["held"] and "deletionPolicy" in action["held"]
    text = run_stackop("plan", str(gone), endpoint=endpoint).stdout
    assert "HELD: refusing to delete" in text

    calls = tmp_path / "calls.jsonl"
    out = run_stackop(
        "apply", *APPLY_FLAGS, str(gone), endpoint=endpoint, env={"STACKOP_CALL_LOG": str(calls)}
    )
    assert out.returncode == 2, out.stdout + out.stderr  # held: nothing more to do
    assert "held db_instance/main: refusing to delete" in out.stdout, out.stdout
    operations = [json.loads(line)["operation"] for line in calls.read_text().splitlines()]
    assert "DeleteDBInstance" not in operations and "ModifyDBInstance" not in operations
    (db,) = client("rds", endpoint).describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    assert db["DBInstanceStatus"] == "available" and db["DeletionProtection"]


# ---------------------------------------------------------------- secrets


def secret_values(endpoint: str) -> list[str]:
    """The RDS-managed master secret (whole string and password), read from Secrets Manager."""
    rds = client("rds", endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    arn = db["MasterUserSecret"]["SecretArn"]
    value = client("secretsmanager", endpoint).get_secret_value(SecretId=arn)["SecretString"]
    password = json.loads(value)["password"]
    assert len(password) >= 8
    return [value, password]


def assert_secrets_absent(secrets: list[str], outputs: dict[str, str]) -> None:
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a secret value appears in {where}"


def test_master_password_never_appears_in_cli_output(endpoint: str, tmp_path: Path) -> None:
    """Logs, plan text and JSON, apply output and the AWS call log never hold the password.

    The operator's HTTP endpoints and /metrics are covered by the operator part: pass
    their bodies to `assert_secrets_absent` with `secret_values(endpoint)`.
    """
    calls = tmp_path / "calls.jsonl"
    env = {"STACKOP_CALL_LOG": str(calls)}
    outputs: dict[str, str] = {}
    applied = run_stackop("apply", *APPLY_FLAGS, str(PORTAL), endpoint=endpoint, env=env)
    assert applied.returncode == 0, applied.stderr
    outputs["apply stdout"], outputs["apply stderr"] = applied.stdout, applied.stderr
    for args in (("plan",), ("plan", "--json")):
        out = run_stackop(*args, str(PORTAL), endpoint=endpoint, env=env)
        outputs[" ".join(args) + " stdout"], outputs[" ".join(args) + " stderr"] = (
            out.stdout,
            out.stderr,
        )
    # A plan that has something to show about the database (drift on it) too.
    client("rds", endpoint).modify_db_instance(
        DBInstanceIdentifier=DB_ID, BackupRetentionPeriod=3, ApplyImmediately=True
    )
    drifted = run_stackop("plan", "--json", str(PORTAL), endpoint=endpoint, env=env)
    assert "backup_retention_days" in drifted.stdout
    outputs["drift plan"] = drifted.stdout + drifted.stderr
    outputs["call log"] = calls.read_text()
    assert_secrets_absent(secret_values(endpoint), outputs)


def test_master_password_never_appears_in_operator_http_metrics_or_logs(
    endpoint: str, tmp_path: Path
) -> None:
    """The operator part of the check: `stackop run` converges the portal and reports
    drift on the database; its /metrics, /status, /healthz, /readyz, its JSON logs and
    the status document it writes to S3 never hold the master password."""
    from tests.operator_harness import Operator, converged, make_bucket, push_text, wait_for

    bucket = "stackop-specs"
    make_bucket(endpoint, bucket)
    push_text(endpoint, bucket, "specs/portal.yaml", PORTAL.read_text(), tmp_path)
    op = Operator(endpoint, bucket, tmp_path).start(resync=2, poll=1, lease=5)
    try:
        wait_for(lambda: converged(op, STACK), 180, "the portal to converge")
        client("rds", endpoint).modify_db_instance(
            DBInstanceIdentifier=DB_ID, BackupRetentionPeriod=3, ApplyImmediately=True
        )
        rds = client("rds", endpoint)

        def corrected() -> bool:
            (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
            return bool(db["BackupRetentionPeriod"] == 7)

        wait_for(corrected, 60, "the database drift to be corrected")
        outputs = {path: op.get(path) for path in ("/metrics", "/status", "/healthz", "/readyz")}
        assert "db_instance" in outputs["/metrics"]
        outputs["log"] = op.log_path.read_text() + op.err_path.read_text()
        assert "db_instance" in outputs["log"] or "reconcile" in outputs["log"]
        s3 = client("s3", endpoint)
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="status/").get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            outputs[item["Key"]] = body
        outputs["call log"] = op.call_log.read_text() if op.call_log.exists() else ""
        assert_secrets_absent(secret_values(endpoint), outputs)
    finally:
        op.kill()


# ---------------------------------------------------------------- prune of a slow distribution


# moto counts the deployment from creation and an update does not restart it (AWS
# redeploys after disabling): 20 s keep the distribution deploying when the prune starts.
@pytest.mark.parametrize("slow_cloudfront", [20], indirect=True)
def test_pruned_distribution_is_disabled_then_deleted_once_deployed(
    endpoint: str, slow_cloudfront: int, tmp_path: Path
) -> None:
    apply_ok(PORTAL, endpoint)
    assert distribution_of(endpoint)["Status"] == "InProgress"
    no_cdn = write_spec(tmp_path, "no-cdn.yaml", cdn__enabled=False)
    plan = actions_of(plan_json(no_cdn, endpoint))
    assert plan["distribution/main"]["action"] == "delete"
    assert plan["origin_access_control/main"]["action"] == "delete"

    calls = tmp_path / "calls.jsonl"
    out = apply_ok(no_cdn, endpoint, env={"STACKOP_CALL_LOG": str(calls)})
    # First pass: disabled, but CloudFront is still deploying: the delete waits.
    assert re.search(r"delete +distribution/main FAILED: .*deleted once", out), out
    assert re.search(r"delete +distribution/main done", out), out
    ops = [json.loads(line)["operation"] for line in calls.read_text().splitlines()]
    cf_writes = [o for o in ops if o in ("UpdateDistribution", "DeleteDistribution")]
    assert cf_writes[0] == "UpdateDistribution" and cf_writes[-1] == "DeleteDistribution"
    assert ops.count("DeleteDistribution") == 1
    cf = client("cloudfront", endpoint)
    assert cf.list_distributions()["DistributionList"].get("Items", []) == []
    policy = json.loads(
        client("s3", endpoint).get_bucket_policy(Bucket=f"{STACK}-frontend")["Policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport"]
    assert run_stackop("plan", str(no_cdn), endpoint=endpoint).returncode == 0


# ---------------------------------------------------------------- replacement, priorities, HTTPS


def test_database_replacement_is_held_until_allowed(endpoint: str, tmp_path: Path) -> None:
    up = _small(tmp_path, "up.yaml", deletionProtection=False)
    apply_ok(up, endpoint)
    changed = _small(tmp_path, "plain.yaml", deletionProtection=False, storageEncrypted=False)
    plan = actions_of(plan_json(changed, endpoint))
    action = plan["db_instance/main"]
    assert action["action"] == "replace"
    assert "storage_encrypted can only change by replacing" in action["note"]
    assert "allowReplace" in action["held"]
    out = run_stackop("apply", *APPLY_FLAGS, str(changed), endpoint=endpoint)
    assert out.returncode == 2 and "held db_instance/main" in out.stdout, out.stdout
    rds = client("rds", endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    assert db["StorageEncrypted"] is True

    doc = yaml.safe_load(changed.read_text())
    doc["spec"]["safety"] = {"allowReplace": ["db_instance/main"]}
    allowed = tmp_path / "allowed.yaml"
    allowed.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert not actions_of(plan_json(allowed, endpoint))["db_instance/main"]["held"]
    apply_ok(allowed, endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"]
    assert db["StorageEncrypted"] is False
    # The replaced instance went through its deletion policy (snapshot) first.
    manual = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"].startswith(f"{DB_ID}-final-") for s in manual] == [True]


def test_reordering_services_does_not_churn_rules(endpoint: str, tmp_path: Path) -> None:
    services = yaml.safe_load(PORTAL.read_text())["spec"]["services"]
    for svc in services[1:]:  # derived priorities for all but the gateway
        svc["routing"].pop("priority")
    first = write_spec(tmp_path, "first.yaml", services=services)
    apply_ok(first, endpoint)
    reordered = write_spec(tmp_path, "reordered.yaml", services=list(reversed(services)))
    out = run_stackop("plan", str(reordered), endpoint=endpoint)
    assert out.returncode == 0, out.stdout
    # A new service gets its own priority; no existing rule moves.
    extra = {
        "name": "search",
        "port": 8010,
        "cpu": 256,
        "memory": 512,
        "routing": {"paths": ["/api/search", "/api/search/*"]},
    }
    grown = write_spec(tmp_path, "grown.yaml", services=[*services, extra])
    plan = plan_json(grown, endpoint)
    rule_actions = {
        k: a["action"] for k, a in actions_of(plan).items() if k.startswith("listener_rule/")
    }
    assert rule_actions.pop("listener_rule/search") == "create"
    assert set(rule_actions.values()) == {"noop"}


def test_certificate_adds_https_listener_and_redirect(endpoint: str, tmp_path: Path) -> None:
    cert = client("acm", endpoint).request_certificate(DomainName="portal.example.com")
    spec = write_spec(
        tmp_path,
        "https.yaml",
        services=yaml.safe_load(PORTAL.read_text())["spec"]["services"][:2],
        loadBalancer__certificateArn=cert["CertificateArn"],
    )
    apply_ok(spec, endpoint)
    assert run_stackop("plan", str(spec), endpoint=endpoint).returncode == 0
    elb = client("elbv2", endpoint)
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    listeners = {
        li["Port"]: li
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == cert["CertificateArn"]
    rules = elb.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
    assert len([r for r in rules if not r["IsDefault"]]) == 2
