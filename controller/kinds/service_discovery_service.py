"""Cloud Map service (A records, multivalue) that ECS registers a service's tasks in.

Observe lists the services of the namespaces the desired resources name (one call per
page, filtered by namespace; every private namespace when nothing is desired, as in a
teardown); ownership tags come from the stack's tagging-API read (see stack_tags), else
are read once per service and process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.engine import UNKNOWN, Delta, Kind, KindContext, Observed, Resolved
from controller.engine.errors import Retryable
from controller.kinds.stack_tags import GET_RESOURCES, tags_of
from controller.kinds.tags_common import (
    RemembersTags,
    TagCache,
    desired_tags,
    ignore_not_found,
    tag_list,
    tag_map,
)


def _dns(p: Any) -> dict[str, Any]:
    return {
        "RoutingPolicy": p["routing_policy"],
        "DnsRecords": [{"Type": p["record_type"], "TTL": int(p["ttl"])}],
    }


class ServiceDiscoveryService(RemembersTags, Kind):
    name = "service_discovery_service"
    service = "servicediscovery"
    iam_actions = (
        "servicediscovery:ListServices",
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListTagsForResource",
        GET_RESOURCES,
        "servicediscovery:CreateService",
        "servicediscovery:UpdateService",
        "servicediscovery:DeleteService",
    )
    replace_fields = frozenset({"name", "namespace_id", "routing_policy", "failure_threshold"})

    def __init__(self) -> None:
        self._tags = TagCache()

    async def _owned(self, ctx: KindContext, namespace_ids: set[str]) -> dict[str, Observed]:
        sd = await ctx.client("servicediscovery")
        found: dict[str, Observed] = {}
        for ns in sorted(namespace_ids):
            services: list[dict[str, Any]] = []
            async for page in sd.get_paginator("list_services").paginate(
                Filters=[{"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "EQ"}]
            ):
                services += page.get("Services", [])

            async def fetch(arn: str) -> dict[str, str]:
                return tag_map((await sd.list_tags_for_resource(ResourceARN=arn)).get("Tags"))

            tags = await tags_of(
                ctx, ((s["Arn"], str(s.get("CreateDate"))) for s in services), self._tags, fetch
            )
            for svc in services:
                logical_id = ctx.owns(tags[svc["Arn"]])
                if logical_id is not None and logical_id not in found:
                    found[logical_id] = self._observed(logical_id, ns, svc)
        return found

    def _observed(self, logical_id: str, namespace_id: str, svc: dict[str, Any]) -> Observed:
        dns = svc.get("DnsConfig", {})
        records = dns.get("DnsRecords", [{}])
        return Observed(
            logical_id=logical_id,
            physical_id=svc["Id"],
            fields={
                "name": svc["Name"],
                "namespace_id": namespace_id,
                "routing_policy": dns.get("RoutingPolicy"),
                "record_type": records[0].get("Type"),
                "ttl": records[0].get("TTL"),
                "failure_threshold": svc.get("HealthCheckCustomConfig", {}).get("FailureThreshold"),
            },
            outputs={"id": svc["Id"], "arn": svc["Arn"], "name": svc["Name"]},
        )

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        namespaces = {
            str(d.params["namespace_id"])
            for d in desired
            if d.params.get("namespace_id") not in (None, UNKNOWN)
        }
        if not namespaces:  # nothing desired (teardown): look in every private namespace
            sd = await ctx.client("servicediscovery")
            async for page in sd.get_paginator("list_namespaces").paginate(
                Filters=[{"Name": "TYPE", "Values": ["DNS_PRIVATE"], "Condition": "EQ"}]
            ):
                namespaces |= {n["Id"] for n in page.get("Namespaces", [])}
        return await self._owned(ctx, namespaces)

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        p = desired.params
        existing = (await self._owned(ctx, {p["namespace_id"]})).get(desired.logical_id)
        if existing is not None:
            return existing
        sd = await ctx.client("servicediscovery")
        svc = (
            await sd.create_service(
                Name=p["name"],
                NamespaceId=p["namespace_id"],
                CreatorRequestId=ctx.token(self.name, desired.logical_id),
                DnsConfig=_dns(p),
                HealthCheckCustomConfig={"FailureThreshold": int(p["failure_threshold"])},
                Tags=tag_list(desired_tags(ctx, self.name, desired.logical_id, desired.params)),
            )
        )["Service"]
        return self._observed(desired.logical_id, p["namespace_id"], svc)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        sd = await ctx.client("servicediscovery")
        p = desired.params
        await sd.update_service(
            Id=observed.physical_id,
            Service={"DnsConfig": {"DnsRecords": _dns(p)["DnsRecords"]}},
        )
        return (await self._owned(ctx, {p["namespace_id"]}))[desired.logical_id]

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        sd = await ctx.client("servicediscovery")
        try:
            await ignore_not_found(sd.delete_service(Id=observed.physical_id))
        except Exception as exc:
            if "ResourceInUse" in str(exc):
                raise Retryable("Cloud Map service still has instances", after=10.0) from exc
            raise
