"""Desired resources for the compute kinds' contract tests (stack `contract`, user tag Team=qa).

The names follow the stack's conventions (cluster = stack name, `/ecs/<stack>/...` log
groups, `<stack>/...` repositories, `<stack>-...` families and alarms) because the
kinds find their resources by them.
"""

from __future__ import annotations

from typing import Any

from controller.engine import DesiredResource, Ref

STACK = "contract"
ROLE_ARN = "arn:aws:iam::123456789012:role/stackop/contract/contract-web-task"


def tags(logical_id: str) -> dict[str, str]:
    return {"Team": "qa", "Name": f"{STACK}-{logical_id}"}


def trust() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


VPC = DesiredResource(
    "vpc",
    "main",
    {
        "cidr_block": "10.9.0.0/16",
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": tags("main"),
    },
)
SUBNET = DesiredResource(
    "subnet",
    "app-a",
    {
        "vpc_id": Ref("vpc", "main"),
        "cidr_block": "10.9.11.0/24",
        "availability_zone": "us-east-1a",
        "map_public_ip_on_launch": False,
        "tags": tags("app-a"),
    },
)
SECURITY_GROUP = DesiredResource(
    "security_group",
    "tasks",
    {
        "vpc_id": Ref("vpc", "main"),
        "group_name": f"{STACK}-tasks",
        "description": "tasks",
        "ingress": [],
        "egress": [
            {
                "protocol": "-1",
                "from_port": -1,
                "to_port": -1,
                "description": "all outbound",
                "cidr": "0.0.0.0/0",
            }
        ],
        "tags": tags("tasks"),
    },
)
CLUSTER = DesiredResource(
    "ecs_cluster",
    "main",
    {
        "name": STACK,
        "container_insights": "enabled",
        "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
        "default_strategy": [
            {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
            {"capacity_provider": "FARGATE_SPOT", "weight": 4, "base": 0},
        ],
        "tags": tags("main"),
    },
)
NAMESPACE = DesiredResource(
    "service_discovery_namespace",
    "main",
    {"name": f"{STACK}.local", "vpc_id": Ref("vpc", "main"), "description": "contract"},
)
DISCOVERY = DesiredResource(
    "service_discovery_service",
    "web",
    {
        "name": "web",
        "namespace_id": Ref("service_discovery_namespace", "main", "id"),
        "routing_policy": "MULTIVALUE",
        "record_type": "A",
        "ttl": 10,
        "failure_threshold": 1,
    },
)
REPOSITORY = DesiredResource(
    "ecr_repository",
    "web",
    {
        "name": f"{STACK}/web",
        "scan_on_push": True,
        "image_tag_mutability": "MUTABLE",
        "retain_on_delete": True,
    },
)
LOG_GROUP = DesiredResource(
    "log_group",
    "web",
    {"name": f"/ecs/{STACK}/web", "retention_days": 7, "retain_on_delete": True},
)
ROLE = DesiredResource(
    "iam_role",
    "web-execution",
    {
        "name": f"{STACK}-web-execution",
        "path": f"/stackop/{STACK}/",
        "description": "contract role",
        "assume_role_policy": trust(),
        "inline_policies": {
            "stackop": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WriteLogs",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x:*",
                    }
                ],
            }
        },
        "managed_policies": [],
        "tags": tags("web-execution"),
    },
)
TASK_DEFINITION = DesiredResource(
    "task_definition",
    "web",
    {
        "family": f"{STACK}-web",
        "cpu": "256",
        "memory": "512",
        "network_mode": "awsvpc",
        "requires_compatibilities": ["FARGATE"],
        "execution_role_arn": ROLE_ARN,
        "task_role_arn": ROLE_ARN,
        "container": {
            "name": "web",
            "image": {
                "repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/c/web",
                "tag": "v1",
            },
            "port": 8000,
            "environment": {"ENVIRONMENT": "test", "A": "1"},
            "secrets": {
                "API_KEY": {
                    "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-AbCdEf",
                    "json_key": None,
                },
                "DB_PASSWORD": {
                    "arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
                    "json_key": "password",
                },
            },
            "health_check": {
                "command": ["CMD-SHELL", "curl -fs http://localhost:8000/health || exit 1"],
                "interval": 30,
                "timeout": 5,
                "retries": 3,
                "start_period": 60,
            },
            "log_group": f"/ecs/{STACK}/web",
            "log_region": "us-east-1",
            "log_stream_prefix": "web",
        },
        "revisions_to_keep": 2,
        "tags": tags("web"),
    },
)


def service(*, autoscaling: bool = True) -> DesiredResource:
    params: dict[str, Any] = {
        "name": "web",
        "cluster": Ref("ecs_cluster", "main", "name"),
        "task_definition": Ref("task_definition", "web", "arn"),
        "capacity_provider_strategy": [
            {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
            {"capacity_provider": "FARGATE_SPOT", "weight": 4, "base": 0},
        ],
        "network": {
            "subnets": [Ref("subnet", "app-a")],
            "security_groups": [Ref("security_group", "tasks")],
            "assign_public_ip": "DISABLED",
        },
        "load_balancers": [],
        "service_registries": [{"registry_arn": Ref("service_discovery_service", "web", "arn")}],
        "circuit_breaker": {"enable": True, "rollback": True},
        "maximum_percent": 200,
        "minimum_healthy_percent": 100,
        "enable_execute_command": True,
        "health_check_grace_period": None,
        "propagate_tags": "SERVICE",
        "enable_ecs_managed_tags": True,
        "tags": tags("web"),
    }
    if autoscaling:
        params["initial_desired_count"] = 1
    else:
        params["desired_count"] = 1
    return DesiredResource("ecs_service", "web", params)


SCALING_TARGET = DesiredResource(
    "scaling_target",
    "web",
    {
        "resource_id": Ref("ecs_service", "web", "resource_id"),
        "min_capacity": 1,
        "max_capacity": 10,
    },
)
SCALING_POLICY = DesiredResource(
    "scaling_policy",
    "web-cpu",
    {
        "policy_name": "web-cpu",
        "target": Ref("scaling_target", "web", "target"),
        "metric": "ECSServiceAverageCPUUtilization",
        "target_value": 70.0,
        "scale_in_cooldown": 300,
        "scale_out_cooldown": 60,
        "disable_scale_in": False,
    },
)
ALARM = DesiredResource(
    "metric_alarm",
    "web-cpu-high",
    {
        "alarm_name": f"{STACK}-web-cpu-high",
        "namespace": "AWS/ECS",
        "metric_name": "CPUUtilization",
        "dimensions": {"ClusterName": STACK, "ServiceName": "web"},
        "statistic": "Average",
        "period": 60,
        "evaluation_periods": 2,
        "threshold": 85.0,
        "comparison": "GreaterThanThreshold",
        "alarm_actions": [],
        "treat_missing_data": "missing",
    },
)

SERVICE_STACK = [
    VPC,
    SUBNET,
    SECURITY_GROUP,
    CLUSTER,
    NAMESPACE,
    DISCOVERY,
    TASK_DEFINITION,
]
