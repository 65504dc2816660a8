"""The stack's tags from the Resource Groups Tagging API: one read per observe pass.

ECR, CloudWatch Logs, Cloud Map, CloudWatch alarms, S3 buckets and CloudFront list
their resources without tags, and a task definition's tags can change after its
immutable definition was described. Instead of one tag read per resource, one
`tag:GetResources` read filtered by the stack tag and these resource types (pages of
100) answers for all of them, shared by every kind in the same observe pass
(`shared_read`) and never kept beyond it: so kinds that compare user tags for drift
(bucket, distribution) see current tags every cycle.

A candidate the tagging API does not return is read one by one by its kind, as before
(and cached per process where the kind allows it, see `tags_of`; fresh every pass for
drift-compared tags, see `current_tags`): a type the API does not answer for (moto
5.2.5 answers for log groups, task definitions, alarms, buckets and distributions, not
for ECR or Cloud Map), a resource whose answer lacks tags we wrote in the last
INDEX_LAG seconds (the API is eventually consistent: so our own correction never reads
back as drift), or a resource that is not ours. Ownership is still decided
by the kind from the tags, the same check either way. CloudFront is global: the
tagging API answers for it only in us-east-1, so elsewhere its type is not asked for
and the distribution reads its own tags (one call for the portal's one distribution,
as a second GetResources in us-east-1 would cost). Not for Elastic IPs, listeners,
listener rules or DB subnet groups, which the tagging API misses (DESIGN.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from controller.engine import KindContext, shared_read
from controller.engine.resource import STACK_TAG
from controller.kinds.tags_common import TagCache, index_lags, tag_map

GET_RESOURCES = "tag:GetResources"
CLIENT = "resourcegroupstaggingapi"
# `service[:type]` as in the ARN. Log groups are asked for by service: their ARN says
# `log-group` but moto files them as `logs:loggroup`; a log group is the only logs
# resource we tag. Cloud Map's namespaces and services are its only taggable types.
# Buckets by service too: a bucket's ARN has no type (`arn:aws:s3:::name`), and a
# bucket is the only S3 resource we tag.
BUCKET = "s3"
DISTRIBUTION = "cloudfront:distribution"
RESOURCE_TYPES = (
    "ecr:repository",
    "logs",
    "servicediscovery",
    "ecs:task-definition",
    "cloudwatch:alarm",
    BUCKET,
)
# Global services' types: the tagging API answers for them in this region only.
GLOBAL_REGION = "us-east-1"
GLOBAL_TYPES = (DISTRIBUTION,)
# AWS's largest pages. A page ends at whichever limit comes first (moto: TagsPerPage
# defaults to 100, about 15 of our resources); AWS documents no conflict between them.
PAGE_RESOURCES, PAGE_TAGS = 100, 500


T = TypeVar("T")


async def stack_tags(ctx: KindContext) -> Mapping[str, dict[str, str]]:
    """{ARN: tags} of the stack's resources of `resource_types`, read once per observe pass."""
    return await shared_read(f"tagging-api/{ctx.stack}", lambda: _read(ctx))


def resource_types(region: str) -> tuple[str, ...]:
    """The types asked for in `region`: the global services' only in GLOBAL_REGION."""
    return RESOURCE_TYPES + (GLOBAL_TYPES if region == GLOBAL_REGION else ())


async def answers_for(ctx: KindContext, resource_type: str) -> bool:
    """Whether `stack_tags` covers `resource_type` in the region of our clients."""
    return resource_type in resource_types(_region(await ctx.client(CLIENT)))


def _region(client: Any) -> str:
    return str(client.meta.region_name or GLOBAL_REGION)


async def _read(ctx: KindContext) -> dict[str, dict[str, str]]:
    tagging = await ctx.client(CLIENT)
    found: dict[str, dict[str, str]] = {}
    async for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_TAG, "Values": [ctx.stack]}],
        ResourceTypeFilters=list(resource_types(_region(tagging))),
        ResourcesPerPage=PAGE_RESOURCES,
        TagsPerPage=PAGE_TAGS,
    ):
        for mapping in page.get("ResourceTagMappingList", []):
            arn, tags = mapping["ResourceARN"], tag_map(mapping.get("Tags"))
            if not index_lags(arn, tags):  # else not indexed yet: the kind reads it itself
                found[arn] = tags
    return found


async def tags_of(
    ctx: KindContext,
    candidates: Iterable[tuple[str, str]],
    cache: TagCache,
    fetch: Callable[[str], Awaitable[dict[str, str]]],
) -> dict[str, dict[str, str]]:
    """{ARN: tags} for (ARN, creation time) candidates: from the tagging API where it
    answers, else read one by one with `fetch` (once per process, see TagCache: so a
    resource that drops out of the API's answer is read afresh once). No candidates, no
    call: a create's lookup by name usually finds nothing."""
    pairs = list(candidates)
    if not pairs:
        return {}
    indexed = await stack_tags(ctx)
    tags = {arn: indexed[arn] for arn, _ in pairs if arn in indexed}
    rest = [(arn, created) for arn, created in pairs if arn not in tags]
    return {**tags, **await cache.tags_of(rest, fetch)}


async def current_tags(
    ctx: KindContext,
    resource_type: str,
    arns: Iterable[str],
    fetch: Callable[[str], Awaitable[T]],
) -> dict[str, dict[str, str] | T]:
    """{ARN: tags} read afresh every pass, for kinds that compare user tags for drift:
    from the tagging API where it answers for `resource_type`, else `fetch` (one call
    per ARN, concurrently; nothing kept). No ARNs, no call."""
    wanted = list(dict.fromkeys(arns))
    if not wanted:
        return {}
    indexed = await stack_tags(ctx) if await answers_for(ctx, resource_type) else {}
    found: dict[str, dict[str, str] | T] = {a: indexed[a] for a in wanted if a in indexed}
    rest = [a for a in wanted if a not in found]
    fetched = await asyncio.gather(*(fetch(a) for a in rest))
    return {**found, **dict(zip(rest, fetched, strict=True))}
