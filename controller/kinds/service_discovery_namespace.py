"""Cloud Map private DNS namespace (`<stack>.local` by default) in the stack's VPC.

`list_namespaces` (one call per page) returns no tags; ownership tags come from the
stack's tagging-API read (see stack_tags), else are read once per namespace and process.
The VPC is only used at create: Cloud Map does not list it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from controller.aws.errors import is_not_found
from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.engine.errors import Retryable
from controller.kinds.stack_tags import GET_RESOURCES, tags_of
from controller.kinds.tags_common import RemembersTags, TagCache, desired_tags, tag_list, tag_map


class ServiceDiscoveryNamespace(RemembersTags, Kind):
    name = "service_discovery_namespace"
    service = "servicediscovery"
    iam_actions = (
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListTagsForResource",
        GET_RESOURCES,
        "servicediscovery:GetOperation",
        "servicediscovery:CreatePrivateDnsNamespace",
        "servicediscovery:UpdatePrivateDnsNamespace",
        "servicediscovery:DeleteNamespace",
        "route53:CreateHostedZone",
        "route53:DeleteHostedZone",
        "route53:GetHostedZone",
        "ec2:DescribeVpcs",
    )
    replace_fields = frozenset({"name"})
    ignore_fields = frozenset({"vpc_id"})

    def __init__(self) -> None:
        self._tags = TagCache()

    async def _owned(self, ctx: KindContext) -> dict[str, Observed]:
        sd = await ctx.client("servicediscovery")
        namespaces: list[dict[str, Any]] = []
        async for page in sd.get_paginator("list_namespaces").paginate(
            Filters=[{"Name": "TYPE", "Values": ["DNS_PRIVATE"], "Condition": "EQ"}]
        ):
            namespaces += page.get("Namespaces", [])

        async def fetch(arn: str) -> dict[str, str]:
            return tag_map((await sd.list_tags_for_resource(ResourceARN=arn)).get("Tags"))

        tags = await tags_of(
            ctx, ((n["Arn"], str(n.get("CreateDate"))) for n in namespaces), self._tags, fetch
        )
        found: dict[str, Observed] = {}
        for ns in namespaces:
            logical_id = ctx.owns(tags[ns["Arn"]])
            if logical_id is not None and logical_id not in found:
                found[logical_id] = Observed(
                    logical_id=logical_id,
                    physical_id=ns["Id"],
                    fields={"name": ns["Name"], "description": ns.get("Description", "")},
                    outputs={"id": ns["Id"], "arn": ns["Arn"], "name": ns["Name"]},
                )
        return found

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return await self._owned(ctx)

    async def _wait(self, ctx: KindContext, operation_id: str) -> None:
        sd = await ctx.client("servicediscovery")
        for _ in range(60):
            op = (await sd.get_operation(OperationId=operation_id))["Operation"]
            if op["Status"] == "SUCCESS":
                return
            if op["Status"] == "FAIL":
                raise RuntimeError(f"Cloud Map operation failed: {op.get('ErrorMessage', '')}")
            await asyncio.sleep(2)
        raise Retryable(f"Cloud Map operation {operation_id} still running", after=10.0)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (await self._owned(ctx)).get(desired.logical_id)
        if existing is not None:
            return existing
        sd = await ctx.client("servicediscovery")
        p = desired.params
        op = await sd.create_private_dns_namespace(
            Name=p["name"],
            Vpc=p["vpc_id"],
            Description=p.get("description", ""),
            CreatorRequestId=ctx.token(self.name, desired.logical_id),
            Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
        )
        await self._wait(ctx, op["OperationId"])
        return (await self._owned(ctx))[desired.logical_id]

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        sd = await ctx.client("servicediscovery")
        op = await sd.update_private_dns_namespace(
            Id=observed.physical_id,
            Namespace={"Description": desired.params.get("description", "")},
        )
        await self._wait(ctx, op["OperationId"])
        return (await self._owned(ctx))[desired.logical_id]

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        sd = await ctx.client("servicediscovery")
        try:
            op = await sd.delete_namespace(Id=observed.physical_id)
        except Exception as exc:
            if is_not_found(exc):
                return
            raise
        await self._wait(ctx, op["OperationId"])
