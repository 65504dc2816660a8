"""The stack's tags from the Resource Groups Tagging API: one read per observe pass.

ECR, CloudWatch Logs, Cloud Map and CloudWatch alarms list their resources without tags,
and a task definition's tags can change after its immutable definition was described.
Instead of one ListTagsForResource per resource, one `tag:GetResources` read filtered by
the stack tag and these resource types (pages of 100) answers for all of them, shared by
every kind in the same observe pass (`shared_read`).

A candidate the tagging API does not return is read one by one by its kind, as before
(and cached per process where the kind allows it): a type the API does not answer for
(moto 5.2.5 answers for log groups, task definitions and alarms, not for ECR or Cloud
Map), a tag written a moment ago (the API is eventually consistent), or a resource
that is not ours. Not for Elastic IPs, listeners, listener rules or DB subnet groups,
which the tagging API misses (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from controller.engine import KindContext, shared_read
from controller.engine.resource import STACK_TAG
from controller.kinds.tags_common import TagCache, tag_map

GET_RESOURCES = "tag:GetResources"
CLIENT = "resourcegroupstaggingapi"
# `service[:type]` as in the ARN. Log groups are asked for by service: their ARN says
# `log-group` but moto files them as `logs:loggroup`; a log group is the only logs
# resource we tag. Cloud Map's namespaces and services are its only taggable types.
RESOURCE_TYPES = (
    "ecr:repository",
    "logs",
    "servicediscovery",
    "ecs:task-definition",
    "cloudwatch:alarm",
)
# AWS's largest pages. A page ends at whichever limit comes first (moto: TagsPerPage
# defaults to 100, about 15 of our resources); AWS documents no conflict between them.
PAGE_RESOURCES, PAGE_TAGS = 100, 500


async def stack_tags(ctx: KindContext) -> Mapping[str, dict[str, str]]:
    """{ARN: tags} of the stack's resources of RESOURCE_TYPES, read once per observe pass."""
    return await shared_read(f"tagging-api/{ctx.stack}", lambda: _read(ctx))


async def _read(ctx: KindContext) -> dict[str, dict[str, str]]:
    tagging = await ctx.client(CLIENT)
    found: dict[str, dict[str, str]] = {}
    async for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_TAG, "Values": [ctx.stack]}],
        ResourceTypeFilters=list(RESOURCE_TYPES),
        ResourcesPerPage=PAGE_RESOURCES,
        TagsPerPage=PAGE_TAGS,
    ):
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"]] = tag_map(mapping.get("Tags"))
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
