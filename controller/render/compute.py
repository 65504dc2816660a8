"""spec.cluster + spec.services -> ECS cluster, Cloud Map, and per service: ECR repository,
log group, two IAM roles, task definition, ECS service, scaling target and policies, alarms.
"""

from __future__ import annotations

from typing import Any

from controller.engine import DesiredResource, Ref
from controller.render.common import resource_tags
from controller.render.network import security_group_id, subnet_ids
from controller.spec.model import Autoscaling, HealthCheck, Service, StackSpec
from controller.spec.naming import (
    joined,
    log_group_name,
    namespace_name,
    repository_name,
    short_name,
)

ROLE_NAME_LIMIT = 64
EXEC_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]
METRICS = {
    "cpu": ("ECSServiceAverageCPUUtilization", "CPUUtilization"),
    "memory": ("ECSServiceAverageMemoryUtilization", "MemoryUtilization"),
}


def role_path(stack: str) -> str:
    """IAM path of the stack's roles: one listing finds them all."""
    return f"/stackop/{stack}/"


def trust_policy(principal: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": principal},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _autoscaling(spec: StackSpec, svc: Service) -> Autoscaling:
    return svc.autoscaling or spec.spec.service_defaults.autoscaling


def _health_check(spec: StackSpec, svc: Service) -> HealthCheck:
    return svc.health_check or spec.spec.service_defaults.health_check


def uses_database(spec: StackSpec, svc: Service) -> bool:
    return svc.uses_database and spec.spec.database.enabled


def attached(spec: StackSpec, svc: Service) -> bool:
    """True if the service sits behind the load balancer (it has a target group)."""
    return svc.routing is not None and spec.spec.load_balancer.enabled


def render_cluster(spec: StackSpec) -> list[DesiredResource]:
    cluster = spec.spec.cluster
    if not cluster.enabled:
        return []
    return [
        DesiredResource(
            "ecs_cluster",
            "main",
            {
                "name": spec.metadata.name,
                "container_insights": "enabled" if cluster.container_insights else "disabled",
                "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
                "default_strategy": [
                    {
                        "capacity_provider": s.capacity_provider,
                        "weight": s.weight,
                        "base": s.base,
                    }
                    for s in cluster.capacity_provider_strategy
                ],
                "tags": resource_tags(spec, "main"),
            },
        ),
        DesiredResource(
            "service_discovery_namespace",
            "main",
            {
                "name": namespace_name(spec),
                "vpc_id": Ref("vpc", "main"),
                "description": f"service discovery for stack {spec.metadata.name}",
            },
        ),
    ]


def render_services(spec: StackSpec) -> list[DesiredResource]:
    if not spec.spec.cluster.enabled:
        return []
    out: list[DesiredResource] = []
    for svc in spec.spec.services:
        out += render_service(spec, svc)
    return out


def render_service(spec: StackSpec, svc: Service) -> list[DesiredResource]:
    stack, name = spec.metadata.name, svc.name
    defaults = spec.spec.service_defaults
    retain = defaults.retain_logs_on_delete
    out = [
        DesiredResource(
            "ecr_repository",
            name,
            {
                "name": repository_name(stack, name),
                "scan_on_push": True,
                "image_tag_mutability": "MUTABLE",
                "retain_on_delete": retain,
            },
        ),
        DesiredResource(
            "log_group",
            name,
            {
                "name": log_group_name(stack, name),
                "retention_days": svc.log_retention_days or defaults.log_retention_days,
                "retain_on_delete": retain,
            },
        ),
        *_roles(spec, svc),
        DesiredResource(
            "service_discovery_service",
            name,
            {
                "name": name,
                "namespace_id": Ref("service_discovery_namespace", "main", "id"),
                "routing_policy": "MULTIVALUE",
                "record_type": "A",
                "ttl": 10,
                "failure_threshold": 1,
            },
        ),
        _task_definition(spec, svc),
        _service(spec, svc),
    ]
    scaling = _autoscaling(spec, svc)
    if scaling.enabled:
        out += _scaling(spec, svc, scaling)
    if defaults.alarms.enabled:
        out += _alarms(spec, svc)
    return out


def _roles(spec: StackSpec, svc: Service) -> list[DesiredResource]:
    stack, name = spec.metadata.name, svc.name
    secrets: list[Any] = sorted(set(svc.secrets.values()))
    if uses_database(spec, svc):
        secrets.append(Ref("db_instance", "main", "secret_arn", wait_ready=False))
    execution: list[dict[str, Any]] = [
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": Ref("ecr_repository", name, "arn", wait_ready=False),
        },
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": Ref("log_group", name, "streams_arn", wait_ready=False),
        },
    ]
    if secrets:
        execution.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secrets,
            }
        )
    task_policies: dict[str, Any] = {}
    if spec.spec.service_defaults.enable_execute_command:
        task_policies["stackop"] = policy(
            {"Sid": "EcsExec", "Effect": "Allow", "Action": EXEC_ACTIONS, "Resource": "*"}
        )
    out = []
    for role, policies in (
        ("execution", {"stackop": policy(*execution)}),
        ("task", task_policies),
    ):
        lid = f"{name}-{role}"
        out.append(
            DesiredResource(
                "iam_role",
                lid,
                {
                    "name": short_name(joined(stack, name), role, limit=ROLE_NAME_LIMIT),
                    "path": role_path(stack),
                    "description": f"{stack} {name} task {role} role",
                    "assume_role_policy": trust_policy("ecs-tasks.amazonaws.com"),
                    "inline_policies": policies,
                    "managed_policies": [],
                    "tags": resource_tags(spec, lid),
                },
            )
        )
    return out


def _environment(spec: StackSpec, svc: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    env: dict[str, Any] = {**spec.spec.service_defaults.environment, **svc.environment}
    secrets: dict[str, Any] = {k: {"arn": v, "json_key": None} for k, v in svc.secrets.items()}
    if uses_database(spec, svc):
        env["DB_HOST"] = Ref("db_instance", "main", "endpoint")
        env["DB_PORT"] = Ref("db_instance", "main", "port")
        # The live database's name: a held replacement (databaseName changed) keeps it.
        env["DB_NAME"] = Ref("db_instance", "main", "db_name")
        secret = Ref("db_instance", "main", "secret_arn")
        secrets["DB_USERNAME"] = {"arn": secret, "json_key": "username"}
        secrets["DB_PASSWORD"] = {"arn": secret, "json_key": "password"}
    return env, secrets


def _task_definition(spec: StackSpec, svc: Service) -> DesiredResource:
    stack, name = spec.metadata.name, svc.name
    defaults = spec.spec.service_defaults
    hc = _health_check(spec, svc)
    env, secrets = _environment(spec, svc)
    image: Any = svc.image or {
        "repository": Ref("ecr_repository", name, "uri", wait_ready=False),
        "tag": defaults.image_tag,
    }
    return DesiredResource(
        "task_definition",
        name,
        {
            "family": joined(stack, name),
            "cpu": str(svc.cpu),
            "memory": str(svc.memory),
            "network_mode": "awsvpc",
            "requires_compatibilities": ["FARGATE"],
            "execution_role_arn": Ref("iam_role", f"{name}-execution", "arn"),
            "task_role_arn": Ref("iam_role", f"{name}-task", "arn"),
            "container": {
                "name": name,
                "image": image,
                "port": svc.port,
                "environment": env,
                "secrets": secrets,
                "health_check": {
                    "command": [
                        "CMD-SHELL",
                        f"curl -fs http://localhost:{svc.port}{hc.path} || exit 1",
                    ],
                    "interval": hc.interval,
                    "timeout": hc.timeout,
                    "retries": hc.unhealthy_threshold,
                    "start_period": defaults.health_check_grace_period,
                },
                "log_group": Ref("log_group", name, "name"),
                "log_region": Ref("log_group", name, "region"),
                "log_stream_prefix": name,
            },
            "revisions_to_keep": defaults.task_definition_revisions_to_keep,
            "tags": resource_tags(spec, name),
        },
    )


def _service(spec: StackSpec, svc: Service) -> DesiredResource:
    defaults = spec.spec.service_defaults
    name = svc.name
    params: dict[str, Any] = {
        "name": name,
        "cluster": Ref("ecs_cluster", "main", "name"),
        "task_definition": Ref("task_definition", name, "arn"),
        "capacity_provider_strategy": [
            {"capacity_provider": s.capacity_provider, "weight": s.weight, "base": s.base}
            for s in spec.spec.cluster.capacity_provider_strategy
        ],
        "network": {
            "subnets": subnet_ids(spec, "app"),
            "security_groups": [security_group_id("tasks")],
            "assign_public_ip": "DISABLED",
        },
        "load_balancers": [],
        "service_registries": [{"registry_arn": Ref("service_discovery_service", name, "arn")}],
        "circuit_breaker": {
            "enable": defaults.circuit_breaker,
            "rollback": defaults.circuit_breaker,
        },
        "maximum_percent": 200,
        "minimum_healthy_percent": 100,
        "enable_execute_command": defaults.enable_execute_command,
        "health_check_grace_period": None,
        "propagate_tags": "SERVICE",
        "enable_ecs_managed_tags": True,
        "tags": resource_tags(spec, name),
    }
    if attached(spec, svc):
        params["load_balancers"] = [
            {
                "target_group_arn": Ref("target_group", name, "arn"),
                "container_name": name,
                "container_port": svc.port,
            }
        ]
        params["health_check_grace_period"] = defaults.health_check_grace_period
    count = svc.desired_count if svc.desired_count is not None else defaults.desired_count
    scaling = _autoscaling(spec, svc)
    if scaling.enabled:
        # The autoscaler owns the count: only used at create, never compared.
        params["initial_desired_count"] = min(
            max(count, scaling.min_capacity), scaling.max_capacity
        )
    else:
        params["desired_count"] = count
    return DesiredResource("ecs_service", name, params)


def _scaling(spec: StackSpec, svc: Service, scaling: Autoscaling) -> list[DesiredResource]:
    name = svc.name
    out = [
        DesiredResource(
            "scaling_target",
            name,
            {
                "resource_id": Ref("ecs_service", name, "resource_id"),
                "min_capacity": scaling.min_capacity,
                "max_capacity": scaling.max_capacity,
            },
        )
    ]
    targets = {"cpu": scaling.cpu_target, "memory": scaling.memory_target}
    for metric, value in targets.items():
        if value is None:
            continue
        lid = f"{name}-{metric}"
        out.append(
            DesiredResource(
                "scaling_policy",
                lid,
                {
                    "policy_name": lid,
                    "target": Ref("scaling_target", name, "target"),
                    "metric": METRICS[metric][0],
                    "target_value": float(value),
                    "scale_in_cooldown": scaling.scale_in_cooldown,
                    "scale_out_cooldown": scaling.scale_out_cooldown,
                    "disable_scale_in": False,
                },
            )
        )
    return out


def _alarms(spec: StackSpec, svc: Service) -> list[DesiredResource]:
    stack, name = spec.metadata.name, svc.name
    alarms = spec.spec.service_defaults.alarms
    thresholds = {"cpu": alarms.cpu_threshold, "memory": alarms.memory_threshold}
    return [
        DesiredResource(
            "metric_alarm",
            f"{name}-{metric}-high",
            {
                "alarm_name": f"{joined(stack, name)}-{metric}-high",
                "namespace": "AWS/ECS",
                "metric_name": METRICS[metric][1],
                "dimensions": {"ClusterName": stack, "ServiceName": name},
                "statistic": "Average",
                "period": 60,
                "evaluation_periods": alarms.evaluation_periods,
                "threshold": float(threshold),
                "comparison": "GreaterThanThreshold",
                "alarm_actions": list(alarms.alarm_actions),
                "treat_missing_data": "missing",
            },
            depends_on=(f"ecs_service/{name}",),
        )
        for metric, threshold in thresholds.items()
    ]
