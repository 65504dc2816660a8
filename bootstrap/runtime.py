"""Where the operator runs: log group, image repository, ECS cluster and its network."""

from __future__ import annotations

from bootstrap.site import Site

METRICS_PORT = 9100


def _tag_list(site: Site, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in site.cfg.tags().items()]


async def ensure_log_group(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    ch.say(f"log group {cfg.log_group}")
    found = await ch.read("logs", "describe_log_groups", logGroupNamePrefix=cfg.log_group)
    group = next(
        (g for g in (found or {}).get("logGroups", []) if g["logGroupName"] == cfg.log_group), None
    )
    if group is None:
        await ch.call(
            "logs", "create_log_group", "missing", logGroupName=cfg.log_group, tags=cfg.tags()
        )
    if (group or {}).get("retentionInDays") != cfg.log_retention_days:
        await ch.call(
            "logs",
            "put_retention_policy",
            f"retention {cfg.log_retention_days} days",
            logGroupName=cfg.log_group,
            retentionInDays=cfg.log_retention_days,
        )


async def ensure_repository(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    ch.say(f"image repository {cfg.repository}")
    found = await ch.read("ecr", "describe_repositories", repositoryNames=[cfg.repository])
    repo = ((found or {}).get("repositories") or [None])[0]
    if repo is None:
        await ch.call(
            "ecr",
            "create_repository",
            "missing",
            repositoryName=cfg.repository,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
            tags=_tag_list(site),
        )
        return
    if repo.get("imageTagMutability") != "IMMUTABLE":
        await ch.call(
            "ecr",
            "put_image_tag_mutability",
            "tags must be immutable",
            repositoryName=cfg.repository,
            imageTagMutability="IMMUTABLE",
        )
    if not repo.get("imageScanningConfiguration", {}).get("scanOnPush"):
        await ch.call(
            "ecr",
            "put_image_scanning_configuration",
            "scan on push",
            repositoryName=cfg.repository,
            imageScanningConfiguration={"scanOnPush": True},
        )


async def ensure_cluster(site: Site) -> None:
    cfg, ch = site.cfg, site.ch
    ch.say(f"ECS cluster {cfg.cluster}")
    found = await ch.read("ecs", "describe_clusters", clusters=[cfg.cluster])
    active = [c for c in (found or {}).get("clusters", []) if c.get("status") == "ACTIVE"]
    insights = [{"name": "containerInsights", "value": "enabled"}]
    if not active:
        await ch.call(
            "ecs",
            "create_cluster",
            "missing",
            clusterName=cfg.cluster,
            settings=insights,
            tags=_tag_list(site, "key", "value"),
        )
    elif {(s["name"], s["value"]) for s in active[0].get("settings", [])} != {
        ("containerInsights", "enabled")
    }:
        await ch.call(
            "ecs",
            "update_cluster_settings",
            "container insights off",
            cluster=cfg.cluster,
            settings=insights,
        )


async def operator_network(site: Site) -> tuple[list[str], list[str]]:
    """Subnets and security groups for the operator's task: from flags or the default VPC."""
    cfg, ch = site.cfg, site.ch
    ch.say("network" + (" (default VPC)" if not cfg.subnets else ""))
    subnets = list(cfg.subnets)
    vpc_id, cidr = None, None
    if not subnets:
        vpcs = await ch.read(
            "ec2", "describe_vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}]
        )
        vpc = ((vpcs or {}).get("Vpcs") or [None])[0]
        if vpc is None:
            raise SystemExit("no default VPC in this region: pass --subnets and --security-groups")
        vpc_id, cidr = vpc["VpcId"], vpc["CidrBlock"]
        found = await ch.read(
            "ec2",
            "describe_subnets",
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "default-for-az", "Values": ["true"]},
            ],
        )
        subnets = sorted(s["SubnetId"] for s in (found or {}).get("Subnets", []))
    if cfg.security_groups:
        return subnets, list(cfg.security_groups)
    if vpc_id is None:
        sub = await ch.read("ec2", "describe_subnets", SubnetIds=subnets[:1])
        vpc_id = sub["Subnets"][0]["VpcId"]
        vpcs = await ch.read("ec2", "describe_vpcs", VpcIds=[vpc_id])
        cidr = vpcs["Vpcs"][0]["CidrBlock"]
    return subnets, [await _ensure_group(site, vpc_id, str(cidr))]


async def _ensure_group(site: Site, vpc_id: str, cidr: str) -> str:
    """No inbound except the metrics port from inside the VPC (for Prometheus)."""
    cfg, ch = site.cfg, site.ch
    found = await ch.read(
        "ec2",
        "describe_security_groups",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": [cfg.security_group]},
        ],
    )
    group = ((found or {}).get("SecurityGroups") or [None])[0]
    if group is None:
        made = await ch.call(
            "ec2",
            "create_security_group",
            "operator security group missing",
            GroupName=cfg.security_group,
            VpcId=vpc_id,
            Description="stack-operator: metrics port from the VPC only",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(site)}],
        )
        group_id = (made or {}).get("GroupId", f"<new {cfg.security_group}>")
        perms: list[dict[str, object]] = []
    else:
        group_id, perms = group["GroupId"], group.get("IpPermissions", [])
    if not any(
        p.get("FromPort") == METRICS_PORT
        and p.get("ToPort") == METRICS_PORT
        and {"CidrIp": cidr} in [{"CidrIp": r.get("CidrIp")} for r in p.get("IpRanges", [])]  # type: ignore[attr-defined]
        for p in perms
    ):
        await ch.call(
            "ec2",
            "authorize_security_group_ingress",
            f"metrics port {METRICS_PORT} from the VPC",
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": METRICS_PORT,
                    "ToPort": METRICS_PORT,
                    "IpRanges": [{"CidrIp": cidr, "Description": "Prometheus scrape"}],
                }
            ],
        )
    return str(group_id)
