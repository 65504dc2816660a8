"""The policy of a bucket the stack owns (TLS only; read by the stack's CloudFront only).

A bucket policy has no tags of its own: it belongs to the bucket the desired resource
names, which the bucket kind found by its tags. It is compared in a canonical form
(statements by Sid, one-item lists as scalars) because S3 may re-serialise it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from controller.aws.errors import error_code, is_not_found
from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.spec.naming import bucket_name

DEFAULT_ID = "frontend"
"""Logical id of the policy of the stack's own (name-derived) bucket."""


def canonical_policy(value: Any) -> Any:
    """Policy JSON in a form where equivalent policies compare equal."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        out = {k: canonical_policy(v) for k, v in value.items()}
        if isinstance(out.get("Statement"), list):
            out["Statement"] = sorted(out["Statement"], key=lambda s: json.dumps(s, sort_keys=True))
        return out
    if isinstance(value, list):
        items = [canonical_policy(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


class BucketPolicy(Kind):
    name = "bucket_policy"
    service = "s3"
    iam_actions = (
        "s3:GetBucketPolicy",
        "s3:GetBucketTagging",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
    )
    replace_fields = frozenset({"bucket"})

    def normalise(self, path: str, value: Any) -> Any:
        return canonical_policy(value) if path == "policy" else value

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        s3 = await ctx.client("s3")
        buckets = {
            str(d.params["bucket"]): d.logical_id
            for d in desired
            if isinstance(d.params.get("bucket"), str)  # else the bucket does not exist yet
        }
        derived = bucket_name(ctx.stack)
        if derived not in buckets and await self._ours(ctx, s3, derived):
            buckets[derived] = DEFAULT_ID  # left the spec: found so that it is pruned
        found: dict[str, Observed] = {}
        for bucket, logical_id in sorted(buckets.items()):
            try:
                out = await s3.get_bucket_policy(Bucket=bucket)
            except Exception as exc:
                if error_code(exc) in ("NoSuchBucketPolicy", "NoSuchBucket") or is_not_found(exc):
                    continue
                raise
            found[logical_id] = self._observed(logical_id, bucket, out["Policy"])
        return found

    @staticmethod
    async def _ours(ctx: KindContext, s3: Any, bucket: str) -> bool:
        try:
            out = await s3.get_bucket_tagging(Bucket=bucket)
        except Exception as exc:
            if error_code(exc) in ("NoSuchTagSet", "NoSuchBucket") or is_not_found(exc):
                return False
            raise
        return ctx.owns({t["Key"]: t["Value"] for t in out.get("TagSet", [])}) is not None

    @staticmethod
    def _observed(logical_id: str, bucket: str, policy: Any) -> Observed:
        doc = json.loads(policy) if isinstance(policy, str) else policy
        return Observed(
            logical_id=logical_id,
            physical_id=bucket,
            fields={"bucket": bucket, "policy": doc},
            outputs={"id": bucket},
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        s3 = await ctx.client("s3")
        bucket = str(desired.params["bucket"])
        policy = json.dumps(desired.params["policy"], sort_keys=True)
        await s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        return self._observed(desired.logical_id, bucket, policy)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        return await self.create(ctx, desired)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        s3 = await ctx.client("s3")
        try:
            await s3.delete_bucket_policy(Bucket=observed.physical_id)
        except Exception as exc:
            if not (error_code(exc) in ("NoSuchBucket", "NoSuchBucketPolicy") or is_not_found(exc)):
                raise
