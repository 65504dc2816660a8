"""Scaling metrics end to end: tasks, autoscaling bounds, CPU/memory and target health.

Real processes: moto_server, `stackop run`, the AWS CLI. moto never runs tasks (running
stays 0) and has no ECS metrics of its own, so the test publishes CPU / memory
datapoints with awscli and registers a target, then compares the operator's gauges
with what awscli reads back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws import client as aws_client
from tests.operator_harness import (
    Operator,
    aws,
    converged,
    make_bucket,
    push_text,
    spec_text,
    value,
    wait_for,
)

BUCKET = "stackop-specs"
STACK = "portal-scaling"
CPU = {"gateway": 41.5, "order": 12.0}


@pytest.fixture
def operator(endpoint: str, tmp_path: Path) -> Iterator[Operator]:
    make_bucket(endpoint, BUCKET)
    op = Operator(endpoint, BUCKET, tmp_path).start(resync=2, poll=1, lease=10)
    yield op
    op.kill()


def two_services(spec: dict[str, Any]) -> None:
    for section in ("database", "frontend", "cdn"):
        spec[section]["enabled"] = False
    spec["services"] = spec["services"][:2]
    for svc in spec["services"]:
        svc.pop("usesDatabase", None)  # refused without a database


def test_scaling_metrics_per_service(operator: Operator, endpoint: str, tmp_path: Path) -> None:
    push_text(endpoint, BUCKET, "specs/scaling.yaml", spec_text(STACK, two_services), tmp_path)
    wait_for(lambda: converged(operator, STACK), 120, "converged")
    services = aws(
        endpoint, "ecs", "describe-services", "--cluster", STACK, "--services", "gateway", "order"
    )["services"]
    assert len(services) == 2
    cloudwatch = aws_client("cloudwatch", endpoint)
    for svc in services:
        name = svc["serviceName"]
        dims = [
            {"Name": "ClusterName", "Value": STACK},
            {"Name": "ServiceName", "Value": name},
        ]
        data = [
            {"MetricName": "CPUUtilization", "Value": CPU[name], "Dimensions": dims},
            {"MetricName": "MemoryUtilization", "Value": 63, "Dimensions": dims},
        ]
        # awscli 1.46 speaks a CloudWatch protocol moto 5.2.5 answers with HTTP 500;
        # the independent boto3 client (query protocol) publishes the datapoints instead.
        cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=data)
    tg_arn = aws(endpoint, "elbv2", "describe-target-groups", "--names", f"{STACK}-gateway")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    aws(
        endpoint,
        "elbv2",
        "register-targets",
        "--target-group-arn",
        tg_arn,
        "--targets",
        "Id=10.0.11.10,Port=8000",
    )
    health = aws(endpoint, "elbv2", "describe-target-health", "--target-group-arn", tg_arn)
    states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]

    def scaled() -> dict[Any, float] | None:
        m = operator.metrics()
        return m if value(m, "stackop_service_cpu_utilization", stack=STACK) > 0 else None

    m = wait_for(scaled, 20, "utilisation read from CloudWatch")
    for svc in services:
        name = svc["serviceName"]
        assert (
            value(m, "stackop_service_desired_tasks", stack=STACK, service=name)
            == svc["desiredCount"]
        )
        assert (
            value(m, "stackop_service_running_tasks", stack=STACK, service=name)
            == svc["runningCount"]
        )
        assert (
            value(m, "stackop_service_pending_tasks", stack=STACK, service=name)
            == svc["pendingCount"]
        )
        assert value(m, "stackop_service_min_tasks", stack=STACK, service=name) == 1
        assert value(m, "stackop_service_max_tasks", stack=STACK, service=name) == 10
        assert value(m, "stackop_service_memory_utilization", stack=STACK, service=name) == 63
    assert value(m, "stackop_service_cpu_utilization", stack=STACK, service="gateway") == 41.5
    assert value(m, "stackop_service_cpu_utilization", stack=STACK, service="order") == 12
    wait_for(
        lambda: (
            value(operator.metrics(), "stackop_target_healthy", stack=STACK, service="gateway")
            + value(operator.metrics(), "stackop_target_unhealthy", stack=STACK, service="gateway")
            == sum(1 for s in states if s in ("healthy", "unhealthy"))
            and ("stackop_target_healthy", frozenset({("stack", STACK), ("service", "gateway")}))
            in operator.metrics()
        ),
        20,
        "target health exported",
    )
    m = operator.metrics()
    assert value(m, "stackop_target_healthy", stack=STACK, service="gateway") == states.count(
        "healthy"
    )
    # one GetMetricData per scaling read for all the stack's services, never one per service
    calls = operator.calls()
    reads = sum(1 for c in calls if c["operation"] == "GetMetricData")
    health_reads = sum(1 for c in calls if c["operation"] == "DescribeTargetHealth")
    assert reads >= 1 and health_reads >= 2 * reads - 2, (reads, health_reads)
