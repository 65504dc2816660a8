"""Find one existing resource of a kind by its physical name or id, tagged or not.

Used by adoption (the resource a spec names) and by the collision pre-flight (is the
name a create would use already taken?). One describe call per resource; never called
for a resource the stack already owns, so a converged plan makes none of these calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.aws.errors import error_code, is_not_found
from controller.engine.kind import KindContext
from controller.kinds.tags_common import tag_map


@dataclass(frozen=True)
class Found:
    """A live resource: what the tag call needs (`target`), when it was made, its tags."""

    kind: str
    name: str
    target: str
    created: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


NAME_PARAMS: dict[str, str] = {
    "security_group": "group_name",
    "ecs_cluster": "name",
    "service_discovery_namespace": "name",
    "service_discovery_service": "name",
    "ecr_repository": "name",
    "log_group": "name",
    "iam_role": "name",
    "task_definition": "family",
    "ecs_service": "name",
    "scaling_policy": "policy_name",
    "metric_alarm": "alarm_name",
    "db_subnet_group": "name",
    "db_instance": "identifier",
    "load_balancer": "name",
    "target_group": "name",
    "frontend_bucket": "name",
    "origin_access_control": "name",
}
"""The desired param holding the physical name a create would claim, per kind."""

SCOPES: dict[str, str] = {
    "security_group": "vpc_id",
    "ecs_service": "cluster",
    "service_discovery_service": "namespace_id",
    "scaling_policy": "target",
}
"""Kinds whose names are unique only inside a parent: a name says nothing while the
parent is still to be created (its reference is not known yet)."""


def scoped_name(kind: str, params: Mapping[str, Any]) -> str | None:
    """The physical name `params` claim, or None when there is none yet to look for."""
    scope = SCOPES.get(kind)
    if scope is not None and not isinstance(params.get(scope), str):
        return None
    name = params.get(NAME_PARAMS.get(kind, ""))
    return name if isinstance(name, str) else None


Lookup = Callable[[KindContext, str, Mapping[str, Any]], Awaitable[Found | None]]


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, int | float) and value > 1e11:  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000).date().isoformat()
    return str(value or "")[:10]


async def _or_none(coro: Awaitable[Any], *codes: str) -> Any:
    try:
        return await coro
    except Exception as exc:
        if is_not_found(exc) or error_code(exc) in codes:
            return None
        raise


def _ec2(operation: str, ids_param: str, result: str, id_field: str, created: str = "") -> Lookup:
    async def look(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
        ec2 = await ctx.client("ec2")
        out = await _or_none(getattr(ec2, operation)(**{ids_param: [value]}))
        items = (out or {}).get(result, [])
        if not items:
            return None
        item = items[0]
        return Found(
            "", value, item[id_field], _date(item.get(created)), tag_map(item.get("Tags")), item
        )

    return look


async def _security_group(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    ec2 = await ctx.client("ec2")
    if value.startswith("sg-"):
        out = await _or_none(ec2.describe_security_groups(GroupIds=[value]))
    else:
        filters = [{"Name": "group-name", "Values": [value]}]
        vpc = params.get("vpc_id")
        if isinstance(vpc, str):
            filters.append({"Name": "vpc-id", "Values": [vpc]})
        out = await ec2.describe_security_groups(Filters=filters)
    groups = (out or {}).get("SecurityGroups", [])
    if len(groups) != 1:
        return None  # none, or the same name in several VPCs: not one to adopt
    g = groups[0]
    return Found("", value, g["GroupId"], "", tag_map(g.get("Tags")), g)


async def _ecs_cluster(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    ecs = await ctx.client("ecs")
    out = await ecs.describe_clusters(clusters=[value], include=["TAGS"])
    for c in out.get("clusters", []):
        if c.get("status") != "INACTIVE":
            return Found("", value, c["clusterArn"], "", tag_map(c.get("tags"), "key", "value"), c)
    return None


async def _ecs_service(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    cluster = params.get("cluster")
    if not isinstance(cluster, str):
        return None  # the cluster does not exist yet: nothing can hold the name
    ecs = await ctx.client("ecs")
    out = await _or_none(
        ecs.describe_services(cluster=cluster, services=[value], include=["TAGS"]),
        "ClusterNotFoundException",
    )
    for s in (out or {}).get("services", []):
        if s.get("status") != "INACTIVE":
            tags = tag_map(s.get("tags"), "key", "value")
            return Found("", value, s["serviceArn"], _date(s.get("createdAt")), tags, s)
    return None


async def _task_definition(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    ecs = await ctx.client("ecs")
    out = await _or_none(ecs.describe_task_definition(taskDefinition=value, include=["TAGS"]))
    if not out:
        return None
    td = out["taskDefinition"]
    tags = tag_map(out.get("tags"), "key", "value")
    return Found("", value, td["taskDefinitionArn"], _date(td.get("registeredAt")), tags, td)


async def _sd_namespace(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    sd = await ctx.client("servicediscovery")
    async for page in sd.get_paginator("list_namespaces").paginate():
        for ns in page.get("Namespaces", []):
            if ns.get("Name") == value:
                return Found("", value, ns["Arn"], _date(ns.get("CreateDate")), {}, ns)
    return None


async def _sd_service(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    namespace = params.get("namespace_id")
    if not isinstance(namespace, str):
        return None
    sd = await ctx.client("servicediscovery")
    filters = [{"Name": "NAMESPACE_ID", "Values": [namespace], "Condition": "EQ"}]
    async for page in sd.get_paginator("list_services").paginate(Filters=filters):
        for s in page.get("Services", []):
            if s.get("Name") == value:
                return Found("", value, s["Arn"], _date(s.get("CreateDate")), {}, s)
    return None


async def _ecr(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    ecr = await ctx.client("ecr")
    out = await _or_none(ecr.describe_repositories(repositoryNames=[value]))
    for r in (out or {}).get("repositories", []):
        return Found("", value, r["repositoryArn"], _date(r.get("createdAt")), {}, r)
    return None


async def _log_group(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    logs = await ctx.client("logs")
    out = await logs.describe_log_groups(logGroupNamePrefix=value)
    for g in out.get("logGroups", []):
        if g["logGroupName"] == value:
            arn = str(g["arn"]).removesuffix(":*")
            return Found("", value, arn, _date(g.get("creationTime")), {}, g)
    return None


async def _iam_role(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    iam = await ctx.client("iam")
    out = await _or_none(iam.get_role(RoleName=value))
    if not out:
        return None
    role = out["Role"]
    return Found(
        "", value, role["RoleName"], _date(role.get("CreateDate")), tag_map(role.get("Tags")), role
    )


async def _scaling_policy(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    aas = await ctx.client("application-autoscaling")
    scope: dict[str, str] = {}
    target = params.get("target")
    if isinstance(target, str):  # `<resource id>#<dimension>`: a name is unique per target
        scope = {"ResourceId": target.split("#", 1)[0]}
    out = await aas.describe_scaling_policies(ServiceNamespace="ecs", PolicyNames=[value], **scope)
    for p in out.get("ScalingPolicies", []):
        return Found("", value, p["PolicyARN"], _date(p.get("CreationTime")), {}, p)
    return None


async def _alarm(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    cw = await ctx.client("cloudwatch")
    out = await cw.describe_alarms(AlarmNames=[value])
    for a in out.get("MetricAlarms", []):
        return Found(
            "", value, a["AlarmArn"], _date(a.get("AlarmConfigurationUpdatedTimestamp")), {}, a
        )
    return None


async def _db_subnet_group(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    rds = await ctx.client("rds")
    out = await _or_none(rds.describe_db_subnet_groups(DBSubnetGroupName=value))
    for g in (out or {}).get("DBSubnetGroups", []):
        return Found("", value, g["DBSubnetGroupArn"], "", {}, g)
    return None


async def _db_instance(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    rds = await ctx.client("rds")
    out = await _or_none(rds.describe_db_instances(DBInstanceIdentifier=value))
    for db in (out or {}).get("DBInstances", []):
        tags = tag_map(db.get("TagList"))
        return Found("", value, db["DBInstanceArn"], _date(db.get("InstanceCreateTime")), tags, db)
    return None


async def _load_balancer(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    elb = await ctx.client("elbv2")
    if value.startswith("arn:"):
        out = await _or_none(elb.describe_load_balancers(LoadBalancerArns=[value]))
    else:
        out = await _or_none(elb.describe_load_balancers(Names=[value]))
    for lb in (out or {}).get("LoadBalancers", []):
        arn = lb["LoadBalancerArn"]
        return Found("", value, arn, _date(lb.get("CreatedTime")), {}, lb)
    return None


async def _target_group(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    elb = await ctx.client("elbv2")
    if value.startswith("arn:"):
        out = await _or_none(elb.describe_target_groups(TargetGroupArns=[value]))
    else:
        out = await _or_none(elb.describe_target_groups(Names=[value]))
    for tg in (out or {}).get("TargetGroups", []):
        return Found("", value, tg["TargetGroupArn"], "", {}, tg)
    return None


async def _elbv2_arn(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    """Listeners and rules have no name: the spec names them by ARN."""
    return Found("", value, value) if value.startswith("arn:") else None


async def _bucket(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    s3 = await ctx.client("s3")
    if await _or_none(s3.head_bucket(Bucket=value), "404", "NoSuchBucket") is None:
        return None
    created = ""
    for b in (await s3.list_buckets()).get("Buckets", []):
        if b["Name"] == value:
            created = _date(b.get("CreationDate"))
    out = await _or_none(s3.get_bucket_tagging(Bucket=value), "NoSuchTagSet")
    tags = tag_map((out or {}).get("TagSet"))
    recoverable = False
    if not tags:  # what a crash between CreateBucket and tagging leaves: empty, no tags
        listed = await s3.list_object_versions(Bucket=value, MaxKeys=1)
        recoverable = not (listed.get("Versions") or listed.get("DeleteMarkers"))
    return Found("", value, value, created, tags, {"recoverable": recoverable})


async def _oac(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    cf = await ctx.client("cloudfront")
    out = await cf.list_origin_access_controls()
    for item in out.get("OriginAccessControlList", {}).get("Items", []) or []:
        if item.get("Name") == value or item.get("Id") == value:
            return Found("", value, item["Id"], "", {}, item)
    return None


async def _distribution(ctx: KindContext, value: str, params: Mapping[str, Any]) -> Found | None:
    cf = await ctx.client("cloudfront")
    out = await _or_none(cf.get_distribution(Id=value))
    if not out:
        return None
    dist = out["Distribution"]
    return Found("", value, dist["ARN"], _date(dist.get("LastModifiedTime")), {}, dist)


LOOKUPS: dict[str, Lookup] = {
    "vpc": _ec2("describe_vpcs", "VpcIds", "Vpcs", "VpcId"),
    "subnet": _ec2("describe_subnets", "SubnetIds", "Subnets", "SubnetId"),
    "internet_gateway": _ec2(
        "describe_internet_gateways", "InternetGatewayIds", "InternetGateways", "InternetGatewayId"
    ),
    "elastic_ip": _ec2("describe_addresses", "AllocationIds", "Addresses", "AllocationId"),
    "nat_gateway": _ec2(
        "describe_nat_gateways", "NatGatewayIds", "NatGateways", "NatGatewayId", "CreateTime"
    ),
    "route_table": _ec2("describe_route_tables", "RouteTableIds", "RouteTables", "RouteTableId"),
    "security_group": _security_group,
    "ecs_cluster": _ecs_cluster,
    "ecs_service": _ecs_service,
    "task_definition": _task_definition,
    "service_discovery_namespace": _sd_namespace,
    "service_discovery_service": _sd_service,
    "ecr_repository": _ecr,
    "log_group": _log_group,
    "iam_role": _iam_role,
    "scaling_policy": _scaling_policy,
    "metric_alarm": _alarm,
    "db_subnet_group": _db_subnet_group,
    "db_instance": _db_instance,
    "load_balancer": _load_balancer,
    "target_group": _target_group,
    "listener": _elbv2_arn,
    "listener_rule": _elbv2_arn,
    "frontend_bucket": _bucket,
    "origin_access_control": _oac,
    "distribution": _distribution,
}


async def lookup(
    ctx: KindContext, kind: str, value: str, params: Mapping[str, Any] | None = None
) -> Found | None:
    """The live resource of `kind` named (or identified) by `value`, or None."""
    look = LOOKUPS.get(kind)
    if look is None:
        return None
    found = await look(ctx, value, params or {})
    if found is None:
        return None
    return Found(kind, found.name, found.target, found.created, found.tags, found.extra)
