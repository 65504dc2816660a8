"""Private S3 bucket for the frontend: public access block, default encryption, versioning.

S3 has no batched read of bucket settings: each setting is one call per bucket, made
concurrently. The bucket name derives from the stack, so a bucket that has left the
spec is still found (and pruned) by that name. CreateBucket takes tags only for
directory buckets, so tags follow right after creation; a bucket left untagged by a
crash in between has our derived name and is adopted on the next create, but only while
it is empty (ours would be): an untagged bucket holding objects is somebody else's.

Observe takes the tags from the stack's tagging-API read (see stack_tags, fresh every
pass: user tags are compared for drift), else reads them per bucket (GetBucketTagging,
which also tells a missing bucket). Ownership is decided from the tags either way;
create and update read the bucket's own tags, never the shared answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code, is_not_found
from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Terminal
from controller.kinds.stack_tags import BUCKET, GET_RESOURCES, current_tags
from controller.kinds.tags_common import (
    desired_tags,
    live_tags,
    params_by_id,
    tag_list,
    tags_written,
)
from controller.spec.naming import bucket_name

PAB_KEYS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}
NO_PAB = {k: False for k in PAB_KEYS}
ARN_PREFIX = "arn:aws:s3:::"


async def _read(coro: Any, missing: set[str], default: Any) -> Any:
    """The call's result, or `default` when S3 says the setting is absent."""
    try:
        return await coro
    except Exception as exc:
        if error_code(exc) in missing:
            return default
        raise


class FrontendBucket(Kind):
    name = "frontend_bucket"
    service = "s3"
    iam_actions = (
        "s3:ListBucket",
        "s3:GetBucketTagging",
        GET_RESOURCES,
        "s3:GetBucketVersioning",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "s3:PutBucketVersioning",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:ListBucketVersions",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteBucket",
    )
    replace_fields = frozenset({"name"})

    async def _tags(self, s3: Any, name: str) -> dict[str, str] | None:
        """The bucket's tags; None if there is no such bucket."""
        try:
            out = await s3.get_bucket_tagging(Bucket=name)
        except Exception as exc:
            if error_code(exc) == "NoSuchTagSet":
                return {}
            if is_not_found(exc) or error_code(exc) in ("NoSuchBucket", "404", "AccessDenied"):
                return None
            raise
        return {t["Key"]: t["Value"] for t in out.get("TagSet", [])}

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        names = {str(d.params["name"]): d.logical_id for d in desired}
        names.setdefault(bucket_name(ctx.stack), "main")
        s3 = await ctx.client("s3")

        async def fetch(arn: str) -> dict[str, str] | None:
            return await self._tags(s3, arn.removeprefix(ARN_PREFIX))

        tags = await current_tags(ctx, BUCKET, map(bucket_arn, sorted(names)), fetch)
        found: dict[str, Observed] = {}
        for name in sorted(names):
            live = tags[bucket_arn(name)]
            logical_id = ctx.owns(live or {})
            if live is not None and logical_id is not None and logical_id not in found:
                try:
                    found[logical_id] = await self._observed(
                        ctx, logical_id, name, live, params.get(logical_id)
                    )
                except Exception as exc:
                    # Deleted since the tagging API indexed it (eventually consistent).
                    if error_code(exc) != "NoSuchBucket":
                        raise
        return found

    async def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        name: str,
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        s3 = await ctx.client("s3")
        versioning, pab, encryption = await asyncio.gather(
            s3.get_bucket_versioning(Bucket=name),
            _read(
                s3.get_public_access_block(Bucket=name),
                {"NoSuchPublicAccessBlockConfiguration"},
                {},
            ),
            _read(
                s3.get_bucket_encryption(Bucket=name),
                {"ServerSideEncryptionConfigurationNotFoundError"},
                {},
            ),
        )
        block = pab.get("PublicAccessBlockConfiguration", {})
        rules = encryption.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        algorithm = (
            rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            if rules
            else None
        )
        return Observed(
            logical_id=logical_id,
            physical_id=name,
            fields={
                "name": name,
                "versioning": versioning.get("Status") == "Enabled",
                "public_access_block": {k: bool(block.get(v, False)) for k, v in PAB_KEYS.items()},
                "encryption": algorithm,
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={
                "id": name,
                "name": name,
                "arn": bucket_arn(name),
                "objects_arn": f"{bucket_arn(name)}/*",
                "domain_name": f"{name}.s3.{ctx_region(s3)}.amazonaws.com",
            },
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        s3 = await ctx.client("s3")
        p = desired.params
        name = str(p["name"])
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        existing = await self._tags(s3, name)
        if existing is None:
            region = ctx_region(s3)
            args: dict[str, Any] = {"Bucket": name}
            if region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                await s3.create_bucket(**args)
            except Exception as exc:
                if error_code(exc) == "BucketAlreadyExists":
                    raise Terminal(f"bucket {name} belongs to another account") from exc
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
        elif existing and ctx.owns(existing) != desired.logical_id:
            raise Terminal(f"bucket {name} exists and is not this stack's")
        elif not existing and await self._holds_objects(s3, name):
            # Ours, left untagged by a crash, would be empty: this one is somebody's.
            raise Terminal(
                f"bucket {name} exists without our tags and holds objects; it is not ours "
                "to take over: remove or rename it, or rename the stack"
            )
        await s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        tags_written(bucket_arn(name), tags)
        await self._apply(s3, name, p, None)
        return await self._observed(ctx, desired.logical_id, name, tags, p)

    @staticmethod
    async def _holds_objects(s3: Any, name: str) -> bool:
        listed = await s3.list_object_versions(Bucket=name, MaxKeys=1)
        return bool(listed.get("Versions") or listed.get("DeleteMarkers"))

    async def _apply(self, s3: Any, name: str, p: Mapping[str, Any], delta: Delta | None) -> None:
        if delta is None or delta.changed("public_access_block"):
            block = {v: bool(p["public_access_block"][k]) for k, v in PAB_KEYS.items()}
            await s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
        if delta is None or delta.changed("encryption"):
            await s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": p["encryption"]},
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
        if delta is None or delta.changed("versioning"):
            status = "Enabled" if p["versioning"] else "Suspended"
            await s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        s3 = await ctx.client("s3")
        p = desired.params
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        await self._apply(s3, observed.physical_id, p, delta)
        if delta.changed("tags"):
            live = await self._tags(s3, observed.physical_id) or {}
            merged = {**live, **tags}
            await s3.put_bucket_tagging(
                Bucket=observed.physical_id, Tagging={"TagSet": tag_list(merged)}
            )
            tags_written(bucket_arn(observed.physical_id), merged)
        return await self._observed(ctx, desired.logical_id, observed.physical_id, tags, p)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        """Empty the bucket (every object version: the frontend is build output) and delete it."""
        s3 = await ctx.client("s3")
        name = observed.physical_id
        try:
            async for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                keys = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if keys:
                    await s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            await s3.delete_bucket(Bucket=name)
        except Exception as exc:
            if not (is_not_found(exc) or error_code(exc) == "NoSuchBucket"):
                raise


def bucket_arn(name: str) -> str:
    return f"{ARN_PREFIX}{name}"


def ctx_region(client: Any) -> str:
    return str(client.meta.region_name or "us-east-1")
