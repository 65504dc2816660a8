"""ECR repository per service, scanning images on push. Retained when its service goes.

`describe_repositories` cannot filter and returns no tags: one call per page lists the
registry, names under `<stack>/` are candidates, and ownership comes from their tags
(the stack's tagging-API read, see stack_tags; else once per repository and process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.engine.kind import DeletionMode
from controller.kinds.compute_common import RETAIN_NOTE, RETAIN_TAG
from controller.kinds.stack_tags import GET_RESOURCES, tags_of
from controller.kinds.tags_common import (
    RemembersTags,
    TagCache,
    desired_tags,
    ignore_not_found,
    tag_list,
    tag_map,
)


class EcrRepository(RemembersTags, Kind):
    name = "ecr_repository"
    service = "ecr"
    iam_actions = (
        "ecr:DescribeRepositories",
        "ecr:ListTagsForResource",
        GET_RESOURCES,
        "ecr:CreateRepository",
        "ecr:PutImageScanningConfiguration",
        "ecr:PutImageTagMutability",
        "ecr:TagResource",
        "ecr:DeleteRepository",
    )
    replace_fields = frozenset({"name"})
    binds_referrers = False  # referrers only name it
    protects_data = True

    def __init__(self) -> None:
        self._tags = TagCache()

    async def _one(self, ctx: KindContext, name: str) -> list[dict[str, Any]]:
        ecr = await ctx.client("ecr")
        try:
            found = await ecr.describe_repositories(repositoryNames=[name])
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise
        return list(found.get("repositories", []))

    async def _list(self, ctx: KindContext, prefix: str) -> list[dict[str, Any]]:
        ecr = await ctx.client("ecr")
        repos: list[dict[str, Any]] = []
        async for page in ecr.get_paginator("describe_repositories").paginate(
            PaginationConfig={"PageSize": 1000}  # AWS's largest page (default 100)
        ):
            repos += [
                r for r in page.get("repositories", []) if r["repositoryName"].startswith(prefix)
            ]
        return repos

    async def _owned(self, ctx: KindContext, repos: list[dict[str, Any]]) -> dict[str, Observed]:
        ecr = await ctx.client("ecr")

        async def fetch(arn: str) -> dict[str, str]:
            return tag_map((await ecr.list_tags_for_resource(resourceArn=arn)).get("tags"))

        tags = await tags_of(
            ctx, ((r["repositoryArn"], str(r.get("createdAt"))) for r in repos), self._tags, fetch
        )
        found: dict[str, Observed] = {}
        for repo in repos:
            logical_id = ctx.owns(tags[repo["repositoryArn"]])
            if logical_id is not None:
                found[logical_id] = self._observed(logical_id, repo, tags[repo["repositoryArn"]])
        return found

    def _observed(self, logical_id: str, repo: dict[str, Any], tags: dict[str, str]) -> Observed:
        return Observed(
            logical_id=logical_id,
            physical_id=repo["repositoryArn"],
            fields={
                "name": repo["repositoryName"],
                "scan_on_push": bool(repo.get("imageScanningConfiguration", {}).get("scanOnPush")),
                "image_tag_mutability": repo.get("imageTagMutability", "MUTABLE"),
                "retain_on_delete": tags.get(RETAIN_TAG, "true") == "true",
            },
            outputs={
                "arn": repo["repositoryArn"],
                "name": repo["repositoryName"],
                "uri": repo["repositoryUri"],
            },
            private={"created": str(repo.get("createdAt"))},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return await self._owned(ctx, await self._list(ctx, f"{ctx.stack}/"))

    def _tags_for(self, ctx: KindContext, desired: Resolved) -> dict[str, str]:
        retain = "true" if desired.params.get("retain_on_delete", True) else "false"
        return {
            **desired_tags(ctx, self.name, desired.logical_id, desired.params),
            RETAIN_TAG: retain,
        }

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        existing = await self._owned(ctx, await self._one(ctx, p["name"]))
        if desired.logical_id in existing:
            return existing[desired.logical_id]
        ecr = await ctx.client("ecr")
        tags = self._tags_for(ctx, desired)
        repo = (
            await ecr.create_repository(
                repositoryName=p["name"],
                imageScanningConfiguration={"scanOnPush": bool(p["scan_on_push"])},
                imageTagMutability=p["image_tag_mutability"],
                tags=tag_list(tags),
            )
        )["repository"]
        self._tags.put(repo["repositoryArn"], str(repo.get("createdAt")), tags)
        return self._observed(desired.logical_id, repo, tags)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        ecr = await ctx.client("ecr")
        p = desired.params
        if delta.changed("scan_on_push"):
            await ecr.put_image_scanning_configuration(
                repositoryName=p["name"],
                imageScanningConfiguration={"scanOnPush": bool(p["scan_on_push"])},
            )
        if delta.changed("image_tag_mutability"):
            await ecr.put_image_tag_mutability(
                repositoryName=p["name"], imageTagMutability=p["image_tag_mutability"]
            )
        if delta.changed("retain_on_delete"):
            tags = self._tags_for(ctx, desired)
            await ecr.tag_resource(resourceArn=observed.physical_id, tags=tag_list(tags))
            self._tags.merge(observed.physical_id, observed.private["created"], tags)
        found = await self._owned(ctx, await self._one(ctx, p["name"]))
        return found[desired.logical_id]

    def deletion(self, observed: Observed) -> tuple[DeletionMode, str]:
        if observed.fields.get("retain_on_delete", True):
            return "retain", RETAIN_NOTE.format(what="ECR repository", data="images")
        return "delete", ""

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ecr = await ctx.client("ecr")
        await ignore_not_found(
            ecr.delete_repository(repositoryName=observed.fields["name"], force=True)
        )
