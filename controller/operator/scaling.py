"""Scaling metrics per service: tasks, autoscaling bounds, utilisation, target health.

Task counts and autoscaling bounds come free from what the reconcile observed, by
convention: `ecs_service/<service>` outputs desired_count / running_count /
pending_count and `scaling_target/<service>` outputs min_capacity / max_capacity.
Target health (one DescribeTargetHealth per target group) and CPU / memory (one
GetMetricData for all the stack's services) cost AWS calls, so the operator runs
`read_aws` at a slower cadence than the drift resync.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.engine import Observed
from controller.operator import metrics

SERVICE_KIND = "ecs_service"
SCALING_KIND = "scaling_target"
TARGET_GROUP_KIND = "target_group"
CLUSTER_KIND = "ecs_cluster"


@dataclass
class ServiceScaling:
    service: str
    cluster: str = ""
    name: str = ""
    values: dict[str, float] = field(default_factory=dict)
    target_group_arn: str = ""


def _split(key: str) -> tuple[str, str]:
    kind, _, logical_id = key.partition("/")
    return kind, logical_id


def _last_segment(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1] if value else ""


def from_observed(observed: Mapping[str, Observed]) -> dict[str, ServiceScaling]:
    """Services and what their observed outputs tell (no AWS calls)."""
    clusters = [
        o.outputs.get("name", "") for k, o in observed.items() if _split(k)[0] == CLUSTER_KIND
    ]
    services: dict[str, ServiceScaling] = {}
    for key, obs in observed.items():
        kind, lid = _split(key)
        if kind != SERVICE_KIND:
            continue
        out = obs.outputs
        cluster = out.get("cluster_name") or _last_segment(
            out.get("cluster") or out.get("cluster_arn")
        )
        svc = ServiceScaling(lid, str(cluster or (clusters[0] if clusters else "")))
        svc.name = str(out.get("name") or out.get("service_name") or lid)
        for output, metric in (
            ("desired_count", "desired"),
            ("running_count", "running"),
            ("pending_count", "pending"),
        ):
            if isinstance(out.get(output), int | float):
                svc.values[metric] = float(out[output])
        services[lid] = svc
    for key, obs in observed.items():
        kind, lid = _split(key)
        found = services.get(lid)
        if found is None:
            continue
        svc = found
        if kind == SCALING_KIND:
            for output, metric in (("min_capacity", "min"), ("max_capacity", "max")):
                if isinstance(obs.outputs.get(output), int | float):
                    svc.values[metric] = float(obs.outputs[output])
        elif kind == TARGET_GROUP_KIND:
            svc.target_group_arn = str(obs.outputs.get("arn", ""))
    return services


async def read_aws(clients: Any, services: dict[str, ServiceScaling]) -> None:
    """Target health and utilisation; best effort (a failure leaves those gauges unset)."""
    if not services:
        return
    await _target_health(clients, services)
    await _utilisation(clients, services)


async def _target_health(clients: Any, services: dict[str, ServiceScaling]) -> None:
    elbv2 = await clients.client("elbv2")
    for svc in services.values():
        if not svc.target_group_arn:
            continue
        reply = await elbv2.describe_target_health(TargetGroupArn=svc.target_group_arn)
        states = [
            d.get("TargetHealth", {}).get("State")
            for d in reply.get("TargetHealthDescriptions", [])
        ]
        svc.values["healthy"] = float(sum(1 for s in states if s == "healthy"))
        svc.values["unhealthy"] = float(sum(1 for s in states if s == "unhealthy"))


async def _utilisation(clients: Any, services: dict[str, ServiceScaling]) -> None:
    queries: list[dict[str, Any]] = []
    index: dict[str, tuple[str, str]] = {}
    for i, svc in enumerate(sorted(services.values(), key=lambda s: s.service)):
        if not svc.cluster:
            continue
        for metric_name, metric in (("CPUUtilization", "cpu"), ("MemoryUtilization", "memory")):
            qid = f"{metric}{i}"
            index[qid] = (svc.service, metric)
            queries.append(
                {
                    "Id": qid,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ECS",
                            "MetricName": metric_name,
                            "Dimensions": [
                                {"Name": "ClusterName", "Value": svc.cluster},
                                {"Name": "ServiceName", "Value": svc.name},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Average",
                    },
                    "ReturnData": True,
                }
            )
    if not queries:
        return
    cloudwatch = await clients.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    reply = await cloudwatch.get_metric_data(
        MetricDataQueries=queries[:500],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        ScanBy="TimestampDescending",
    )
    for result in reply.get("MetricDataResults", []):
        target = index.get(result.get("Id", ""))
        values = result.get("Values") or []
        if target is None or not values:
            continue
        timestamps = result.get("Timestamps") or []
        latest = max(range(len(values)), key=lambda j: timestamps[j]) if timestamps else 0
        service, metric = target
        services[service].values[metric] = float(values[latest])


GAUGES = {
    "desired": metrics.SERVICE_DESIRED,
    "running": metrics.SERVICE_RUNNING,
    "pending": metrics.SERVICE_PENDING,
    "min": metrics.SERVICE_MIN,
    "max": metrics.SERVICE_MAX,
    "cpu": metrics.SERVICE_CPU,
    "memory": metrics.SERVICE_MEMORY,
    "healthy": metrics.TARGET_HEALTHY,
    "unhealthy": metrics.TARGET_UNHEALTHY,
}
AWS_READ = ("cpu", "memory", "healthy", "unhealthy")


def export(stack: str, services: dict[str, ServiceScaling], *, include_aws: bool) -> None:
    """Set the gauges; AWS-read ones are replaced only when `include_aws` (kept otherwise)."""
    names = [n for n in GAUGES if include_aws or n not in AWS_READ]
    metrics.clear_stack(stack, tuple(GAUGES[n] for n in names))
    for svc in services.values():
        for name in names:
            if name in svc.values:
                GAUGES[name].labels(stack, svc.service).set(svc.values[name])
