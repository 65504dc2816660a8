"""Issue 4, compute end to end: real `stackop` processes against moto in server mode.

The spec is tests/specs/compute-only.yaml: the portal's network, cluster and nine
services with the database, load balancer, frontend and CDN off. Out-of-band changes
use an independent boto3 client (tests/aws.py), as an operator with the AWS CLI would.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from controller.aws import AwsClients
from controller.engine import Outcome
from controller.spec import load_spec_file
from controller.stack import StackRunner
from tests.aws import client
from tests.conftest import ROOT, run_stackop

SPEC = ROOT / "tests" / "specs" / "compute-only.yaml"
STACK = "compute-only"
SERVICES = [
    "gateway",
    "order",
    "customer",
    "inventory",
    "returns",
    "chatbot",
    "notification",
    "analytics",
    "salesforce",
]
PER_SERVICE = (
    "ecr_repository",
    "log_group",
    "service_discovery_service",
    "task_definition",
    "ecs_service",
    "scaling_target",
)
DONE_LINE = re.compile(r"^  (create|update|replace|delete) +(\S+/\S+) done")


# ---------------------------------------------------------------- helpers


def apply(endpoint: str, spec: Path = SPEC, env: dict[str, str] | None = None) -> str:
    # no operator in these tests (no bucket); some edits delete resources on purpose
    proc = run_stackop(
        "apply", "--no-lease", "--auto-approve", str(spec), endpoint=endpoint, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def plan_json(endpoint: str, spec: Path = SPEC) -> tuple[int, dict[str, Any]]:
    proc = run_stackop("plan", "--json", str(spec), endpoint=endpoint)
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def changes(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{kind/logical-id: field changes} of every write action."""
    return {
        f"{a['kind']}/{a['logicalId']}": a["changes"]
        for a in plan["actions"]
        if a["action"] not in ("noop", "retain")
    }


def variant(tmp_path: Path, edit: Any, name: str = "variant.yaml") -> Path:
    """A copy of the compute spec changed by `edit(doc)`."""
    doc = yaml.safe_load(SPEC.read_text())
    edit(doc)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def service_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["spec"]["services"] if s["name"] == name)


def describe_service(endpoint: str, name: str) -> dict[str, Any]:
    services = client("ecs", endpoint).describe_services(cluster=STACK, services=[name])
    return dict(services["services"][0])


def family(name: str) -> str:
    return f"{STACK}-{name}"


def write_calls(log: Path) -> Counter[str]:
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    reads = ("Describe", "List", "Get")
    return Counter(
        f"{c['service']}:{c['operation']}" for c in calls if not c["operation"].startswith(reads)
    )


# ---------------------------------------------------------------- converge


def test_compute_converges_from_empty_and_plans_clean(endpoint: str) -> None:
    out = apply(endpoint)
    assert "Converged" in out
    code, plan = plan_json(endpoint)
    assert code == 0 and plan["inSync"], changes(plan)
    kinds = Counter(a["kind"] for a in plan["actions"])
    for kind in PER_SERVICE:
        assert kinds[kind] == len(SERVICES), (kind, kinds[kind])
    assert kinds["iam_role"] == 2 * len(SERVICES)
    assert kinds["scaling_policy"] == 2 * len(SERVICES)  # CPU and memory
    assert kinds["ecs_cluster"] == kinds["service_discovery_namespace"] == 1
    assert kinds["metric_alarm"] == 0  # serviceDefaults.alarms.enabled: false

    ecs = client("ecs", endpoint)
    (cluster,) = ecs.describe_clusters(clusters=[STACK], include=["SETTINGS"])["clusters"]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["defaultCapacityProviderStrategy"][0] == {
        "capacityProvider": "FARGATE",
        "weight": 1,
        "base": 1,
    }
    svc = describe_service(endpoint, "order")
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    assert svc["enableExecuteCommand"] is True
    assert svc["propagateTags"] == "SERVICE"
    assert [s["capacityProvider"] for s in svc["capacityProviderStrategy"]] == [
        "FARGATE",
        "FARGATE_SPOT",
    ]
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert len(net["subnets"]) == 2 and net["assignPublicIp"] == "DISABLED"
    assert len(svc["serviceRegistries"]) == 1

    logs = client("logs", endpoint).describe_log_groups(logGroupNamePrefix=f"/ecs/{STACK}/")
    assert {g["logGroupName"]: g["retentionInDays"] for g in logs["logGroups"]} == {
        f"/ecs/{STACK}/{s}": 7 for s in SERVICES
    }
    repos = client("ecr", endpoint).describe_repositories()["repositories"]
    assert all(r["imageScanningConfiguration"]["scanOnPush"] for r in repos)
    assert sorted(r["repositoryName"] for r in repos) == sorted(f"{STACK}/{s}" for s in SERVICES)

    iam = client("iam", endpoint)
    roles = iam.list_roles(PathPrefix=f"/stackop/{STACK}/")["Roles"]
    assert len(roles) == 18
    for role in roles:
        assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    doc = iam.get_role_policy(RoleName=f"{STACK}-order-execution", PolicyName="stackop")[
        "PolicyDocument"
    ]
    resources = {s["Sid"]: s["Resource"] for s in doc["Statement"]}
    assert resources["PullImage"].endswith(f":repository/{STACK}/order")
    assert resources["WriteLogs"].endswith(f"log-group:/ecs/{STACK}/order:log-stream:*")
    assert "ReadSecrets" not in resources  # no secrets named, database off

    aas = client("application-autoscaling", endpoint)
    targets = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert {(t["MinCapacity"], t["MaxCapacity"]) for t in targets} == {(1, 10)}
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    config = {p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"] for p in policies}
    assert config["order-cpu"]["TargetValue"] == 70.0
    assert config["order-memory"]["TargetValue"] == 80.0
    assert config["order-cpu"]["ScaleOutCooldown"] == 60
    assert config["order-cpu"]["ScaleInCooldown"] == 300


# ---------------------------------------------------------------- drift


def test_drift_is_reported_with_old_and_new_values_and_corrected(endpoint: str) -> None:
    apply(endpoint)
    ecs = client("ecs", endpoint)
    # an older task definition: edit and apply a new revision, then switch back by hand
    old_arn = describe_service(endpoint, "gateway")["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=old_arn, include=["TAGS"])
    new = ecs.register_task_definition(
        **{
            k: td["taskDefinition"][k]
            for k in (
                "family",
                "taskRoleArn",
                "executionRoleArn",
                "networkMode",
                "containerDefinitions",
                "requiresCompatibilities",
                "cpu",
                "memory",
            )
        },
        tags=td["tags"],
    )["taskDefinition"]["taskDefinitionArn"]
    # revision 2 is identical to what we want: the latest revision is ours, no new one
    ecs.update_service(cluster=STACK, service="gateway", taskDefinition=old_arn)
    code, plan = plan_json(endpoint)
    assert code == 2
    assert changes(plan)["ecs_service/gateway"] == [
        {"field": "task_definition", "old": old_arn, "new": new}
    ]
    apply(endpoint)
    assert describe_service(endpoint, "gateway")["taskDefinition"] == new

    # the rest, all at once
    aas = client("application-autoscaling", endpoint)
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{STACK}/order",
        ScalableDimension="ecs:service:DesiredCount",
        MaxCapacity=4,
    )
    aas.put_scaling_policy(
        PolicyName="customer-cpu",
        ServiceNamespace="ecs",
        ResourceId=f"service/{STACK}/customer",
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    )
    client("logs", endpoint).put_retention_policy(
        logGroupName=f"/ecs/{STACK}/inventory", retentionInDays=30
    )
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    client("iam", endpoint).put_role_policy(
        RoleName=f"{STACK}-returns-execution",
        PolicyName="stackop",
        PolicyDocument=json.dumps(wide),
    )
    ecs.update_service(
        cluster=STACK,
        service="chatbot",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
    )

    code, plan = plan_json(endpoint)
    assert code == 2
    found = changes(plan)
    assert found["scaling_target/order"] == [{"field": "max_capacity", "old": 4, "new": 10}]
    assert found["scaling_policy/customer-cpu"] == [
        {"field": "target_value", "old": 50.0, "new": 70.0}
    ]
    assert found["log_group/inventory"] == [{"field": "retention_days", "old": 30, "new": 7}]
    (role_change,) = found["iam_role/returns-execution"]
    assert role_change["field"] == "inline_policies.stackop.Statement"
    assert role_change["old"] == [{"Action": ["*"], "Effect": "Allow", "Resource": ["*"]}]
    assert {s["Sid"] for s in role_change["new"]} == {
        "PullImage",
        "RegistryLogin",
        "WriteLogs",
    }
    assert sorted(c["field"] for c in found["ecs_service/chatbot"]) == [
        "circuit_breaker.enable",
        "circuit_breaker.rollback",
    ]
    assert found["ecs_service/chatbot"][0]["old"] is False
    assert found["ecs_service/chatbot"][0]["new"] is True
    assert len(found) == 5, found

    apply(endpoint)
    code, plan = plan_json(endpoint)
    assert code == 0, changes(plan)
    assert describe_service(endpoint, "chatbot")["deploymentConfiguration"][
        "deploymentCircuitBreaker"
    ] == {"enable": True, "rollback": True}
    policy = client("iam", endpoint).get_role_policy(
        RoleName=f"{STACK}-returns-execution", PolicyName="stackop"
    )
    assert {s["Sid"] for s in policy["PolicyDocument"]["Statement"]} == {
        "PullImage",
        "RegistryLogin",
        "WriteLogs",
    }


def test_desired_count_belongs_to_the_autoscaler(endpoint: str, tmp_path: Path) -> None:
    apply(endpoint)
    ecs = client("ecs", endpoint)
    ecs.update_service(cluster=STACK, service="order", desiredCount=3)  # the autoscaler's work
    code, plan = plan_json(endpoint)
    assert code == 0, changes(plan)  # autoscaling on: not drift
    apply(endpoint)
    assert describe_service(endpoint, "order")["desiredCount"] == 3  # never reverted

    def no_autoscaling(doc: dict[str, Any]) -> None:
        service_named(doc, "order")["autoscaling"] = {"enabled": False}

    spec = variant(tmp_path, no_autoscaling)
    apply(endpoint, spec)  # removes order's scaling target and policies; enforces the count
    code, plan = plan_json(endpoint, spec)
    assert code == 0, changes(plan)
    assert describe_service(endpoint, "order")["desiredCount"] == 1
    ecs.update_service(cluster=STACK, service="order", desiredCount=3)
    code, plan = plan_json(endpoint, spec)
    assert changes(plan) == {"ecs_service/order": [{"field": "desired_count", "old": 3, "new": 1}]}
    apply(endpoint, spec)
    assert describe_service(endpoint, "order")["desiredCount"] == 1  # reverted
    aas = client("application-autoscaling", endpoint)
    ids = {
        t["ResourceId"]
        for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    }
    assert f"service/{STACK}/order" not in ids and len(ids) == len(SERVICES) - 1


# ---------------------------------------------------------------- targeted writes


def test_one_cpu_edit_writes_one_task_definition_and_one_service(
    endpoint: str, tmp_path: Path
) -> None:
    apply(endpoint)
    before = {s: describe_service(endpoint, s) for s in SERVICES}

    def bigger_order(doc: dict[str, Any]) -> None:
        service_named(doc, "order")["cpu"] = 1024
        service_named(doc, "order")["memory"] = 2048

    spec = variant(tmp_path, bigger_order)
    code, plan = plan_json(endpoint, spec)
    # the service's update shows at apply, once the new revision's ARN exists
    assert sorted(changes(plan)) == ["task_definition/order"]
    assert {"field": "cpu", "old": "512", "new": "1024"} in changes(plan)["task_definition/order"]

    log = tmp_path / "calls.jsonl"
    apply(endpoint, spec, env={"STACKOP_CALL_LOG": str(log)})
    # the call log names operations, not resources: one registration and one service
    # update in the whole apply (and nothing else written) ...
    assert write_calls(log) == Counter({"ecs:RegisterTaskDefinition": 1, "ecs:UpdateService": 1})
    # ... and the live state shows which: only order's family and service changed
    ecs = client("ecs", endpoint)
    for name in SERVICES:
        revisions = ecs.list_task_definitions(familyPrefix=family(name))["taskDefinitionArns"]
        after = describe_service(endpoint, name)
        if name == "order":
            assert len(revisions) == 2
            assert after["taskDefinition"].endswith(f"{family(name)}:2")
        else:
            assert len(revisions) == 1, name
            assert after["taskDefinition"] == before[name]["taskDefinition"], name
    code, plan = plan_json(endpoint, spec)
    assert code == 0, changes(plan)


# ---------------------------------------------------------------- removal


def test_removed_service_is_deleted_in_order_and_its_data_kept(
    endpoint: str, tmp_path: Path
) -> None:
    apply(endpoint)

    def without_salesforce(doc: dict[str, Any]) -> None:
        doc["spec"]["services"] = [s for s in doc["spec"]["services"] if s["name"] != "salesforce"]

    spec = variant(tmp_path, without_salesforce)
    code, plan = plan_json(endpoint, spec)
    assert code == 2
    by_action: dict[str, set[str]] = {}
    notes = {}
    for a in plan["actions"]:
        if a["action"] != "noop":
            by_action.setdefault(a["action"], set()).add(f"{a['kind']}/{a['logicalId']}")
            notes[f"{a['kind']}/{a['logicalId']}"] = a["note"]
    # the tasks security group loses the removed service's port (network's business)
    assert by_action.pop("update") == {"security_group/tasks"}
    assert by_action == {
        "delete": {
            "ecs_service/salesforce",
            "task_definition/salesforce",
            "iam_role/salesforce-execution",
            "iam_role/salesforce-task",
            "service_discovery_service/salesforce",
            "scaling_target/salesforce",
            "scaling_policy/salesforce-cpu",
            "scaling_policy/salesforce-memory",
        },
        "retain": {"log_group/salesforce", "ecr_repository/salesforce"},
    }
    assert notes["log_group/salesforce"].startswith("log group kept: losing logs is data loss")
    text = run_stackop("plan", str(spec), endpoint=endpoint).stdout
    assert "= log_group/salesforce" in text and "kept" in text

    out = apply(endpoint, spec)
    done = [m.group(2) for line in out.splitlines() if (m := DONE_LINE.match(line))]
    order = {key: i for i, key in enumerate(done)}

    def before(first: str, then: str) -> None:
        assert order[first] < order[then], (first, then, done)

    before("scaling_policy/salesforce-cpu", "scaling_target/salesforce")
    before("scaling_policy/salesforce-memory", "scaling_target/salesforce")
    before("scaling_target/salesforce", "ecs_service/salesforce")
    before("ecs_service/salesforce", "task_definition/salesforce")
    before("ecs_service/salesforce", "service_discovery_service/salesforce")
    before("task_definition/salesforce", "iam_role/salesforce-execution")
    before("task_definition/salesforce", "iam_role/salesforce-task")

    ecs = client("ecs", endpoint)
    live = ecs.describe_services(cluster=STACK, services=["salesforce"])["services"]
    assert all(s["status"] != "ACTIVE" for s in live)
    assert ecs.list_task_definitions(familyPrefix=family("salesforce"))["taskDefinitionArns"] == []
    groups = client("logs", endpoint).describe_log_groups(
        logGroupNamePrefix=f"/ecs/{STACK}/salesforce"
    )["logGroups"]
    assert len(groups) == 1  # kept
    repos = client("ecr", endpoint).describe_repositories()["repositories"]
    assert f"{STACK}/salesforce" in {r["repositoryName"] for r in repos}  # kept
    code, plan = plan_json(endpoint, spec)
    assert code == 0 and plan["inSync"]
    retained = {f"{a['kind']}/{a['logicalId']}" for a in plan["actions"] if a["action"] == "retain"}
    assert retained == {"log_group/salesforce", "ecr_repository/salesforce"}


# ---------------------------------------------------------------- what moto cannot show


class RecordingClients(AwsClients):
    """AwsClients that also keep the parameters of every ECS request (test only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.hooked = False

    async def client(self, service: str) -> Any:
        c = await super().client(service)
        if service == "ecs" and not self.hooked:  # concurrent first calls: hook once
            self.hooked = True

            def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
                self.requests.append((model.name, json.loads(json.dumps(params, default=str))))

            c.meta.events.register("provide-client-params.ecs.*", keep)
        return c


def test_create_service_request_carries_what_moto_drops(endpoint: str, tmp_path: Path) -> None:
    """moto's create_service ignores the circuit breaker, ECS Exec and the capacity
    provider strategy (launchType comes back EC2), and a service never reaches steady
    state. So this checks the request we send: AWS applies these fields on create; on
    moto the kind sees they did not stick and sends one update_service with them."""

    def no_services(doc: dict[str, Any]) -> None:
        doc["spec"]["services"] = []

    apply(endpoint, variant(tmp_path, no_services))  # network + cluster only

    async def run() -> list[tuple[str, dict[str, Any]]]:
        async with RecordingClients(endpoint_url=endpoint) as clients:
            runner = StackRunner(clients)
            for _ in range(3):  # as `stackop apply` does: passes until nothing is left
                result = await runner.reconcile(load_spec_file(SPEC))
                if result.execution is None:
                    break
                failed = result.execution.of(Outcome.FAILED)
                assert not failed, [(r.action.key, r.message) for r in failed]
            assert result.plan.in_sync
            return clients.requests

    requests = asyncio.run(run())
    creates = [p for op, p in requests if op == "CreateService"]
    assert len(creates) == len(SERVICES)
    for params in creates:
        assert params["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
            "enable": True,
            "rollback": True,
        }
        assert params["enableExecuteCommand"] is True
        assert params["capacityProviderStrategy"] == [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 4, "base": 0},
        ]
        assert "launchType" not in params
        assert params["propagateTags"] == "SERVICE"
        assert params["desiredCount"] == 1
        tags = {t["key"]: t["value"] for t in params["tags"]}
        assert tags["stackop:stack"] == STACK
    follow_ups = [p for op, p in requests if op == "UpdateService"]
    assert len(follow_ups) == len(SERVICES)  # moto only: the fields create_service dropped
    for params in follow_ups:
        assert params["deploymentConfiguration"]["deploymentCircuitBreaker"]["enable"] is True
        assert params["enableExecuteCommand"] is True
        assert "desiredCount" not in params  # the autoscaler owns the count
    # moto: never steady (running 0 of 1 unless MOTO_ECS_SERVICE_RUNNING is set)
    svc = describe_service(endpoint, "order")
    assert svc["runningCount"] in (0, 1) and svc["desiredCount"] == 1


# ---------------------------------------------------------------- the whole portal

PORTAL = ROOT / "specs" / "portal.yaml"
PORTAL_STACK = "customer-order-portal-production"


def test_portal_converges_and_a_removed_service_goes_with_its_routing(
    endpoint: str, tmp_path: Path
) -> None:
    """specs/portal.yaml whole (network, database, load balancer, frontend, CDN, compute)."""
    apply(endpoint, PORTAL)
    code, plan = plan_json(endpoint, PORTAL)
    assert code == 0 and plan["inSync"], changes(plan)
    assert plan["notReconciled"] == []

    ecs = client("ecs", endpoint)
    (order,) = ecs.describe_services(cluster=PORTAL_STACK, services=["order"])["services"]
    (lb,) = order["loadBalancers"]
    assert (lb["containerName"], lb["containerPort"]) == ("order", 8001)
    assert order["healthCheckGracePeriodSeconds"] == 60
    td = ecs.describe_task_definition(taskDefinition=order["taskDefinition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["DB_NAME"] == "portal" and env["DB_PORT"] == "5432" and env["DB_HOST"]
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets["DB_PASSWORD"].endswith(":password::")  # by ARN and JSON key, no value
    db_secret = secrets["DB_PASSWORD"].removesuffix(":password::")
    iam = client("iam", endpoint)
    statements = iam.get_role_policy(
        RoleName=f"{PORTAL_STACK}-order-execution", PolicyName="stackop"
    )["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Sid"] == "ReadSecrets")
    assert read["Resource"] == [db_secret]  # only the database secret
    statements = iam.get_role_policy(
        RoleName=f"{PORTAL_STACK}-gateway-execution", PolicyName="stackop"
    )["PolicyDocument"]["Statement"]
    assert "ReadSecrets" not in {s["Sid"] for s in statements}  # gateway uses no database

    def without_salesforce(doc: dict[str, Any]) -> None:
        doc["spec"]["services"] = [s for s in doc["spec"]["services"] if s["name"] != "salesforce"]

    doc = yaml.safe_load(PORTAL.read_text())
    without_salesforce(doc)
    spec = tmp_path / "portal.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, plan = plan_json(endpoint, spec)
    deletes = {f"{a['kind']}/{a['logicalId']}" for a in plan["actions"] if a["action"] == "delete"}
    assert {"target_group/salesforce", "listener_rule/salesforce"} <= deletes
    assert "ecs_service/salesforce" in deletes
    out = apply(endpoint, spec)
    done = [m.group(2) for line in out.splitlines() if (m := DONE_LINE.match(line))]
    assert done.index("ecs_service/salesforce") < done.index("target_group/salesforce"), done
    assert done.index("listener_rule/salesforce") < done.index("target_group/salesforce"), done
    code, plan = plan_json(endpoint, spec)
    assert code == 0, changes(plan)


def test_alarms_when_the_spec_enables_them(endpoint: str, tmp_path: Path) -> None:
    def alarms_on(doc: dict[str, Any]) -> None:
        doc["spec"]["serviceDefaults"]["alarms"] = {"enabled": True, "cpuThreshold": 90}

    spec = variant(tmp_path, alarms_on)
    apply(endpoint, spec)
    code, plan = plan_json(endpoint, spec)
    assert code == 0, changes(plan)
    alarms = client("cloudwatch", endpoint).describe_alarms(AlarmNamePrefix=f"{STACK}-")[
        "MetricAlarms"
    ]
    assert len(alarms) == 2 * len(SERVICES)
    cpu = next(a for a in alarms if a["AlarmName"] == f"{STACK}-order-cpu-high")
    assert (cpu["MetricName"], cpu["Threshold"], cpu["Namespace"]) == (
        "CPUUtilization",
        90.0,
        "AWS/ECS",
    )
    assert {d["Name"]: d["Value"] for d in cpu["Dimensions"]} == {
        "ClusterName": STACK,
        "ServiceName": "order",
    }
    apply(endpoint)  # alarms off again: they are deleted (alarms hold no data)
    ours = client("cloudwatch", endpoint).describe_alarms(AlarmNamePrefix=f"{STACK}-")
    assert ours["MetricAlarms"] == []  # (the autoscaler's own TargetTracking-* alarms stay)
