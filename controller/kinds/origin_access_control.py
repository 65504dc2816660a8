"""CloudFront origin access control: CloudFront signs its requests to the private bucket.

Origin access controls carry no tags. Their names are unique in the account, so ours
are found by name in one list call and confirmed by an ownership marker in the
description (`stackop:<stack>/<kind>/<logical id>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.aws.errors import error_code
from controller.engine import Delta, Kind, KindContext, Observed, Resolved, Retryable
from controller.engine.resource import resource_key
from controller.kinds.tags_common import ignore_not_found


def marker(ctx: KindContext, kind: str, logical_id: str) -> str:
    return f"stackop:{ctx.stack}/{resource_key(kind, logical_id)}"


class OriginAccessControl(Kind):
    name = "origin_access_control"
    service = "cloudfront"
    iam_actions = (
        "cloudfront:ListOriginAccessControls",
        "cloudfront:GetOriginAccessControl",
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:UpdateOriginAccessControl",
        "cloudfront:DeleteOriginAccessControl",
    )

    async def _owned(self, ctx: KindContext) -> dict[str, dict[str, Any]]:
        cf = await ctx.client("cloudfront")
        prefix = f"stackop:{ctx.stack}/{self.name}/"
        found: dict[str, dict[str, Any]] = {}
        async for page in cf.get_paginator("list_origin_access_controls").paginate():
            for item in page.get("OriginAccessControlList", {}).get("Items", []) or []:
                description = str(item.get("Description", ""))
                if description.startswith(prefix):
                    logical_id = description[len(prefix) :].split(" ", 1)[0]
                    found.setdefault(logical_id, item)
        return found

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return {lid: self._observed(lid, item) for lid, item in (await self._owned(ctx)).items()}

    @staticmethod
    def _observed(logical_id: str, item: Mapping[str, Any]) -> Observed:
        return Observed(
            logical_id=logical_id,
            physical_id=item["Id"],
            fields={
                "name": item.get("Name"),
                "origin_type": item.get("OriginAccessControlOriginType"),
                "signing_behavior": item.get("SigningBehavior"),
                "signing_protocol": item.get("SigningProtocol"),
            },
            outputs={"id": item["Id"]},
        )

    def _config(self, ctx: KindContext, desired: Resolved) -> dict[str, Any]:
        p = desired.params
        return {
            "Name": p["name"],
            "Description": marker(ctx, self.name, desired.logical_id),
            "SigningProtocol": p["signing_protocol"],
            "SigningBehavior": p["signing_behavior"],
            "OriginAccessControlOriginType": p["origin_type"],
        }

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return self._observed(desired.logical_id, existing)
        cf = await ctx.client("cloudfront")
        config = self._config(ctx, desired)
        out = await cf.create_origin_access_control(OriginAccessControlConfig=config)
        item = {"Id": out["OriginAccessControl"]["Id"], **config}
        return self._observed(desired.logical_id, item)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        cf = await ctx.client("cloudfront")
        current = await cf.get_origin_access_control(Id=observed.physical_id)
        config = self._config(ctx, desired)
        await cf.update_origin_access_control(
            Id=observed.physical_id, IfMatch=current["ETag"], OriginAccessControlConfig=config
        )
        return self._observed(desired.logical_id, {"Id": observed.physical_id, **config})

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        cf = await ctx.client("cloudfront")
        current = await ignore_not_found(cf.get_origin_access_control(Id=observed.physical_id))
        if current is None:
            return
        try:
            await ignore_not_found(
                cf.delete_origin_access_control(Id=observed.physical_id, IfMatch=current["ETag"])
            )
        except Exception as exc:
            if error_code(exc) == "OriginAccessControlInUse":
                raise Retryable("still used by a distribution being deleted", after=30.0) from exc
            raise
