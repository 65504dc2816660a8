"""CloudFront distribution: the frontend bucket as default origin, the ALB for the API path.

- Found with one ListDistributions (per page); tags and the full config (with its
  ETag) are read only for candidates, i.e. distributions with an origin whose domain
  starts like the stack's names, and ownership is confirmed from the tags. The tags
  come from the stack's tagging-API read (see stack_tags; fresh every pass, as user
  tags are compared for drift), else ListTagsForResource per candidate: always outside
  us-east-1, where the tagging API does not answer for CloudFront.
- Created with its tags and a CallerReference derived from stack + logical id + spec
  version; updated with the config's ETag as If-Match; on prune it is disabled first
  and deleted once that change is deployed (CloudFront refuses to delete it earlier).
- Deployment takes minutes in AWS: create returns at once and the resource reports
  not ready until Deployed; nothing in this stack needs to wait for that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code
from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Retryable
from controller.kinds.stack_tags import DISTRIBUTION, GET_RESOURCES, current_tags
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
    tags_written,
)

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
"""AWS managed cache policy Managed-CachingDisabled."""
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
"""AWS managed origin request policy Managed-AllViewerExceptHostHeader."""
ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
READ_METHODS = ["GET", "HEAD"]


def _items(block: Mapping[str, Any] | None) -> list[Any]:
    return list((block or {}).get("Items") or [])


def _origin_to_aws(origin_id: str, o: Mapping[str, Any]) -> dict[str, Any]:
    if o["type"] == "s3":
        return {
            "Id": origin_id,
            "DomainName": o["domain_name"],
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": o.get("origin_access_control_id") or "",
        }
    return {
        "Id": origin_id,
        "DomainName": o["domain_name"],
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": o["protocol_policy"],
            "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
            "OriginReadTimeout": 30,
            "OriginKeepaliveTimeout": 5,
        },
    }


def _origin_from_aws(o: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> dict[str, Any]:
    if "CustomOriginConfig" in o:
        return {
            "type": "custom",
            "domain_name": o.get("DomainName"),
            "protocol_policy": o["CustomOriginConfig"].get("OriginProtocolPolicy"),
        }
    # AWS always returns OriginAccessControlId ("" when none); moto drops the key. A key
    # that is not reported at all cannot be drift, so it reads as what we asked for.
    oac = o.get("OriginAccessControlId")
    if oac is None:
        oac = (wanted or {}).get("origin_access_control_id")
    return {"type": "s3", "domain_name": o.get("DomainName"), "origin_access_control_id": oac}


def build_config(p: Mapping[str, Any], caller_reference: str) -> dict[str, Any]:
    """The whole DistributionConfig from the desired params (we own every setting)."""
    origins = [_origin_to_aws(oid, o) for oid, o in sorted(p["origins"].items())]
    config: dict[str, Any] = {
        "CallerReference": caller_reference,
        "Comment": p["comment"],
        "DefaultRootObject": p["default_root_object"],
        "Enabled": bool(p["enabled"]),
        "PriceClass": p["price_class"],
        "HttpVersion": "http2",
        "IsIPV6Enabled": True,
        "Origins": {"Quantity": len(origins), "Items": origins},
        "DefaultCacheBehavior": {
            "TargetOriginId": p["default_origin"],
            "ViewerProtocolPolicy": p["viewer_protocol_policy"],
            "AllowedMethods": {
                "Quantity": 2,
                "Items": READ_METHODS,
                "CachedMethods": {"Quantity": 2, "Items": READ_METHODS},
            },
            "Compress": True,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": p["min_ttl"],
            "DefaultTTL": p["default_ttl"],
            "MaxTTL": p["max_ttl"],
        },
        "CacheBehaviors": {"Quantity": 0},
    }
    api = p.get("api_behavior")
    if api:
        config["CacheBehaviors"] = {
            "Quantity": 1,
            "Items": [
                {
                    "PathPattern": api["path_pattern"],
                    "TargetOriginId": api["origin"],
                    "ViewerProtocolPolicy": p["viewer_protocol_policy"],
                    "AllowedMethods": {
                        "Quantity": len(ALL_METHODS),
                        "Items": ALL_METHODS,
                        "CachedMethods": {"Quantity": 2, "Items": READ_METHODS},
                    },
                    "CachePolicyId": CACHING_DISABLED,
                    "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
                    "Compress": False,
                }
            ],
        }
    return config


def _api_from_aws(config: Mapping[str, Any]) -> dict[str, Any] | None:
    behaviors = _items(config.get("CacheBehaviors"))
    if not behaviors:
        return None
    b = behaviors[0]
    methods = sorted(_items(b.get("AllowedMethods")))
    return {
        "path_pattern": b.get("PathPattern"),
        "origin": b.get("TargetOriginId"),
        "caching": "disabled" if b.get("CachePolicyId") == CACHING_DISABLED else "cached",
        "methods": "all" if methods == ALL_METHODS else ",".join(methods),
    }


class Distribution(Kind):
    name = "distribution"
    service = "cloudfront"
    iam_actions = (
        "cloudfront:ListDistributions",
        "cloudfront:ListTagsForResource",
        GET_RESOURCES,
        "cloudfront:GetDistribution",
        "cloudfront:GetDistributionConfig",
        "cloudfront:CreateDistribution",
        "cloudfront:UpdateDistribution",
        "cloudfront:TagResource",
        "cloudfront:DeleteDistribution",
    )

    async def _owned(self, ctx: KindContext) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        """{logical id: (GetDistribution result, tags)} for the stack's distributions."""
        cf = await ctx.client("cloudfront")
        prefix = ctx.stack[:20].lower()
        candidates: list[dict[str, Any]] = []
        async for page in cf.get_paginator("list_distributions").paginate():
            for summary in _items(page.get("DistributionList")):
                domains = [str(o.get("DomainName", "")) for o in _items(summary.get("Origins"))]
                if any(d.lower().startswith(prefix) for d in domains):
                    candidates.append(summary)

        async def fetch(arn: str) -> dict[str, str]:
            return tag_map(_items((await cf.list_tags_for_resource(Resource=arn)).get("Tags")))

        tags_by_arn = await current_tags(ctx, DISTRIBUTION, (s["ARN"] for s in candidates), fetch)
        mine: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        for summary in candidates:
            tags = tags_by_arn[summary["ARN"]]
            logical_id = ctx.owns(tags)
            if logical_id is not None and logical_id not in {m[0] for m in mine}:
                mine.append((logical_id, summary, tags))
        details = await asyncio.gather(*(cf.get_distribution(Id=s["Id"]) for _, s, _ in mine))
        return {lid: (dict(d), tags) for (lid, _, tags), d in zip(mine, details, strict=True)}

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        params = params_by_id(desired)
        return {
            lid: self._observed(ctx, lid, got, tags, params.get(lid))
            for lid, (got, tags) in (await self._owned(ctx)).items()
        }

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        got: Mapping[str, Any],
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        dist = got["Distribution"]
        config = dist["DistributionConfig"]
        default = config.get("DefaultCacheBehavior", {})
        wanted_origins = (params or {}).get("origins") or {}
        origins = {
            o["Id"]: _origin_from_aws(o, wanted_origins.get(o["Id"]))
            for o in _items(config.get("Origins"))
        }
        status = str(dist.get("Status", ""))
        return Observed(
            logical_id=logical_id,
            physical_id=dist["Id"],
            fields={
                "comment": config.get("Comment", ""),
                "default_root_object": config.get("DefaultRootObject", ""),
                "enabled": config.get("Enabled"),
                "price_class": config.get("PriceClass"),
                "default_origin": default.get("TargetOriginId"),
                "viewer_protocol_policy": default.get("ViewerProtocolPolicy"),
                "min_ttl": default.get("MinTTL"),
                "default_ttl": default.get("DefaultTTL"),
                "max_ttl": default.get("MaxTTL"),
                "origins": origins,
                "api_behavior": _api_from_aws(config),
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={"id": dist["Id"], "arn": dist["ARN"], "domain_name": dist["DomainName"]},
            ready=status == "Deployed",
            status=status,
            private={
                "etag": got.get("ETag", ""),
                "caller_reference": config.get("CallerReference", ""),
            },
        )

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return self._observed(ctx, desired.logical_id, *existing, desired.params)
        cf = await ctx.client("cloudfront")
        p = desired.params
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        config = build_config(p, ctx.token(self.name, desired.logical_id))
        try:
            out = await cf.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": tag_list(tags)},
                }
            )
        except Exception as exc:
            if error_code(exc) == "DistributionAlreadyExists":  # an earlier attempt went through
                raise Retryable("distribution created by an earlier attempt", after=5.0) from exc
            raise
        return self._observed(ctx, desired.logical_id, out, tags, p)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        cf = await ctx.client("cloudfront")
        p = desired.params
        tags = desired_tags(ctx, self.name, desired.logical_id, p)
        if [path for path in delta.paths if not path.startswith("tags")]:
            current = await cf.get_distribution_config(Id=observed.physical_id)
            reference = current["DistributionConfig"]["CallerReference"]
            await cf.update_distribution(
                Id=observed.physical_id,
                IfMatch=current["ETag"],
                DistributionConfig=build_config(p, reference),
            )
        if delta.changed("tags"):
            await cf.tag_resource(Resource=observed.outputs["arn"], Tags={"Items": tag_list(tags)})
            tags_written(observed.outputs["arn"], tags)
        got = await cf.get_distribution(Id=observed.physical_id)
        return self._observed(ctx, desired.logical_id, got, tags, p)

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        """Disable, then delete once deployed; Retryable while CloudFront is still busy."""
        cf = await ctx.client("cloudfront")
        current = await ignore_not_found(cf.get_distribution_config(Id=observed.physical_id))
        if current is None:
            return
        config = current["DistributionConfig"]
        if config.get("Enabled"):
            config["Enabled"] = False
            await cf.update_distribution(
                Id=observed.physical_id, IfMatch=current["ETag"], DistributionConfig=config
            )
        got = await ignore_not_found(cf.get_distribution(Id=observed.physical_id))
        if got is None:
            return
        if got["Distribution"].get("Status") != "Deployed":
            raise Retryable(
                f"distribution {observed.physical_id} is disabled; it is deleted once "
                "CloudFront has deployed that",
                after=30.0,
            )
        await ignore_not_found(cf.delete_distribution(Id=observed.physical_id, IfMatch=got["ETag"]))
