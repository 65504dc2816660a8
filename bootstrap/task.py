"""The operator's own task definition and ECS service."""

from __future__ import annotations

from typing import Any

from bootstrap.compare import covers
from bootstrap.runtime import METRICS_PORT
from bootstrap.site import Site

CONTAINER = "stackop"
HEALTH_CMD = (
    'python -c "import urllib.request; '
    f"urllib.request.urlopen('http://127.0.0.1:{METRICS_PORT}/healthz', timeout=3)\""
)


EVENTS_RESYNC_SECONDS = 300


def environment(site: Site) -> list[dict[str, str]]:
    cfg = site.cfg
    env = {
        "STACKOP_BUCKET": cfg.bucket,
        "STACKOP_PREFIX": cfg.norm_prefix,
        "STACKOP_REGION": cfg.region,
    }
    if cfg.events:
        env["STACKOP_QUEUE_URL"] = site.queue_url or f"<url of {cfg.queue}>"
        # change events correct drift within seconds: the resync is only a safety net
        env["STACKOP_RESYNC"] = str(EVENTS_RESYNC_SECONDS)
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def task_definition(site: Site) -> dict[str, Any]:
    cfg = site.cfg
    container = {
        "name": CONTAINER,
        "image": site.image,
        "essential": True,
        "portMappings": [{"containerPort": METRICS_PORT, "protocol": "tcp"}],
        "environment": environment(site),
        "healthCheck": {
            "command": ["CMD-SHELL", HEALTH_CMD],
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        },
        "stopTimeout": 30,
        "readonlyRootFilesystem": True,
        "user": "10001",
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": cfg.log_group,
                "awslogs-region": cfg.region,
                "awslogs-stream-prefix": "operator",
            },
        },
    }
    return {
        "family": cfg.family,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": cfg.cpu,
        "memory": cfg.memory,
        "executionRoleArn": site.role_arn(cfg.execution_role),
        "taskRoleArn": site.role_arn(cfg.task_role),
        "containerDefinitions": [container],
    }


def _comparable(td: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in td.items() if k != "containerDefinitions"}
    out["containerDefinitions"] = [
        {**c, "environment": sorted(c.get("environment", []), key=lambda e: e["name"])}
        for c in td.get("containerDefinitions", [])
    ]
    return out


async def ensure_task_definition(site: Site) -> str:
    """The ARN of the revision to run (registering one if the latest differs)."""
    cfg, ch = site.cfg, site.ch
    ch.say(f"task definition {cfg.family}")
    want = task_definition(site)
    # A family never registered is a ClientException ("Unable to describe task definition").
    found = await ch.read(
        "ecs",
        "describe_task_definition",
        absent=frozenset({"ClientException"}),
        taskDefinition=cfg.family,
    )
    live = (found or {}).get("taskDefinition")
    if (
        live is not None
        and live.get("status") == "ACTIVE"
        and covers(_comparable(live), _comparable(want))
    ):
        return str(live["taskDefinitionArn"])
    made = await ch.call(
        "ecs",
        "register_task_definition",
        "missing" if live is None else "latest revision differs",
        **want,
        tags=[{"key": k, "value": v} for k, v in cfg.tags().items()],
    )
    return str((made or {}).get("taskDefinition", {}).get("taskDefinitionArn", cfg.family))


async def ensure_service(site: Site, task_arn: str, subnets: list[str], groups: list[str]) -> None:
    cfg, ch = site.cfg, site.ch
    ch.say(f"ECS service {cfg.service}")
    network = {
        "awsvpcConfiguration": {
            "subnets": sorted(subnets),
            "securityGroups": sorted(groups),
            "assignPublicIp": "ENABLED" if cfg.assign_public_ip else "DISABLED",
        }
    }
    found = await ch.read("ecs", "describe_services", cluster=cfg.cluster, services=[cfg.service])
    live = next((s for s in (found or {}).get("services", []) if s.get("status") == "ACTIVE"), None)
    if live is None:
        await ch.call(
            "ecs",
            "create_service",
            "missing",
            cluster=cfg.cluster,
            serviceName=cfg.service,
            taskDefinition=task_arn,
            desiredCount=cfg.desired_count,
            launchType="FARGATE",
            networkConfiguration=network,
            deploymentConfiguration={
                "minimumHealthyPercent": 100,
                "maximumPercent": 200,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
            propagateTags="SERVICE",
            enableECSManagedTags=True,
            tags=[{"key": k, "value": v} for k, v in cfg.tags().items()],
        )
        return
    stale = []
    if live.get("taskDefinition") != task_arn:
        stale.append("task definition")
    if live.get("desiredCount") != cfg.desired_count:
        stale.append("desired count")
    if not covers(_network(live), network):
        stale.append("network")
    if stale:
        await ch.call(
            "ecs",
            "update_service",
            " and ".join(stale) + " differ",
            cluster=cfg.cluster,
            service=cfg.service,
            taskDefinition=task_arn,
            desiredCount=cfg.desired_count,
            networkConfiguration=network,
        )


def _network(service: dict[str, Any]) -> dict[str, Any]:
    net = dict(service.get("networkConfiguration") or {})
    vpc = dict(net.get("awsvpcConfiguration") or {})
    for key in ("subnets", "securityGroups"):
        vpc[key] = sorted(vpc.get(key, []))
    net["awsvpcConfiguration"] = vpc
    return net
