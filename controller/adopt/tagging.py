"""The one write adoption makes: add the ownership tags, one call per resource.

Kept here, keyed by kind name, rather than in each kind module, so that adoption is one
self-contained feature (cloud-custodian style: the per-API facts are data). Kinds whose
ownership follows from another resource (a scaling target lives on the stack's cluster,
a bucket policy on the stack's bucket) need no call; a kind whose ownership marker is not
a tag (an origin access control's description) cannot be adopted by tagging.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from controller.engine.kind import KindContext
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, OWNER_VALUE, STACK_TAG
from controller.kinds.tags_common import tag_list, tag_map

TagWriter = Callable[[KindContext, str, Mapping[str, str]], Awaitable[None]]

OWNED_THROUGH: dict[str, str] = {
    "scaling_target": "its service's cluster",
    "scaling_policy": "its scaling target",
    "bucket_policy": "its bucket",
}
"""Kinds found through another adopted resource: no tag call of their own."""

NOT_TAGGABLE: dict[str, str] = {
    "origin_access_control": "ownership is recorded in its description, not in tags",
}
"""Kinds that tags alone cannot adopt, with the reason."""


def ownership_tags(ctx: KindContext, kind: str, logical_id: str) -> dict[str, str]:
    return {
        OWNER_TAG: OWNER_VALUE,
        STACK_TAG: ctx.stack,
        LOGICAL_ID_TAG: f"{kind}/{logical_id}",
    }


async def _ec2(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    ec2 = await ctx.client("ec2")
    await ec2.create_tags(Resources=[target], Tags=tag_list(tags))


async def _iam_role(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    iam = await ctx.client("iam")
    await iam.tag_role(RoleName=target, Tags=tag_list(tags))


async def _ecs(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    ecs = await ctx.client("ecs")
    await ecs.tag_resource(resourceArn=target, tags=tag_list(tags, "key", "value"))


async def _logs(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    logs = await ctx.client("logs")
    await logs.tag_resource(resourceArn=target, tags=dict(tags))


async def _ecr(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    ecr = await ctx.client("ecr")
    await ecr.tag_resource(resourceArn=target, tags=tag_list(tags))


async def _servicediscovery(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    sd = await ctx.client("servicediscovery")
    await sd.tag_resource(ResourceARN=target, Tags=tag_list(tags))


async def _cloudwatch(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    cw = await ctx.client("cloudwatch")
    await cw.tag_resource(ResourceARN=target, Tags=tag_list(tags))


async def _rds(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    rds = await ctx.client("rds")
    await rds.add_tags_to_resource(ResourceName=target, Tags=tag_list(tags))


async def _elbv2(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    elb = await ctx.client("elbv2")
    await elb.add_tags(ResourceArns=[target], Tags=tag_list(tags))


async def _s3(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    """S3 replaces the whole tag set: the live tags are read and kept (one read, one write)."""
    s3 = await ctx.client("s3")
    try:
        live = tag_map((await s3.get_bucket_tagging(Bucket=target)).get("TagSet"))
    except Exception as exc:
        if "NoSuchTagSet" not in str(exc):
            raise
        live = {}
    await s3.put_bucket_tagging(Bucket=target, Tagging={"TagSet": tag_list({**live, **tags})})


async def _cloudfront(ctx: KindContext, target: str, tags: Mapping[str, str]) -> None:
    cf = await ctx.client("cloudfront")
    await cf.tag_resource(Resource=target, Tags={"Items": tag_list(tags)})


TAG_WRITERS: dict[str, TagWriter] = {
    "vpc": _ec2,
    "subnet": _ec2,
    "internet_gateway": _ec2,
    "elastic_ip": _ec2,
    "nat_gateway": _ec2,
    "route_table": _ec2,
    "security_group": _ec2,
    "iam_role": _iam_role,
    "ecs_cluster": _ecs,
    "ecs_service": _ecs,
    "task_definition": _ecs,
    "log_group": _logs,
    "ecr_repository": _ecr,
    "service_discovery_namespace": _servicediscovery,
    "service_discovery_service": _servicediscovery,
    "metric_alarm": _cloudwatch,
    "db_subnet_group": _rds,
    "db_instance": _rds,
    "load_balancer": _elbv2,
    "target_group": _elbv2,
    "listener": _elbv2,
    "listener_rule": _elbv2,
    "frontend_bucket": _s3,
    "distribution": _cloudfront,
}


async def add_ownership_tags(ctx: KindContext, kind: str, logical_id: str, target: str) -> bool:
    """Tag one resource as ours; False when the kind needs no tag call of its own."""
    writer = TAG_WRITERS.get(kind)
    if writer is None:
        return False
    await writer(ctx, target, ownership_tags(ctx, kind, logical_id))
    return True
