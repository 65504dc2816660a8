"""See the stack as it will be once the adoption's tags are on, without writing them.

A second set of AWS clients whose responses carry the ownership tags on the resources
to adopt: botocore events drop our tag filters from EC2 requests (and apply them after),
add the tags to the tag lists each kind reads, and answer S3 GetBucketTagging for an
adopted bucket. The kinds' own observe then runs unchanged, so the plan it yields is the
one the next apply will make: the field updates that follow adoption, what would need
replacement, and what the kinds' observe would still not find.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from controller.adopt.model import Adoption
from controller.adopt.tagging import ownership_tags
from controller.aws import AwsClients
from controller.engine import KindContext

TAG_FILTER_PREFIX = "tag:stackop:"


@dataclass(frozen=True)
class Items:
    """Tags on each item of a list in the response, the item named by `id_key`."""

    list_key: str
    id_key: str
    tags_key: str
    style: str = "kv"


@dataclass(frozen=True)
class Top:
    """Tags at the top of the response, for the resource a request parameter names."""

    id_param: str
    tags_key: str
    style: str = "kv"


READS: dict[tuple[str, str], Items | Top] = {
    ("ec2", "DescribeVpcs"): Items("Vpcs", "VpcId", "Tags"),
    ("ec2", "DescribeSubnets"): Items("Subnets", "SubnetId", "Tags"),
    ("ec2", "DescribeInternetGateways"): Items("InternetGateways", "InternetGatewayId", "Tags"),
    ("ec2", "DescribeAddresses"): Items("Addresses", "AllocationId", "Tags"),
    ("ec2", "DescribeNatGateways"): Items("NatGateways", "NatGatewayId", "Tags"),
    ("ec2", "DescribeRouteTables"): Items("RouteTables", "RouteTableId", "Tags"),
    ("ec2", "DescribeSecurityGroups"): Items("SecurityGroups", "GroupId", "Tags"),
    ("iam", "GetAccountAuthorizationDetails"): Items("RoleDetailList", "RoleName", "Tags"),
    ("ecs", "DescribeClusters"): Items("clusters", "clusterArn", "tags", "kv-lower"),
    ("ecs", "DescribeServices"): Items("services", "serviceArn", "tags", "kv-lower"),
    ("ecs", "DescribeTaskDefinition"): Top("taskDefinition", "tags", "kv-lower"),
    ("rds", "DescribeDBInstances"): Items("DBInstances", "DBInstanceArn", "TagList"),
    ("rds", "ListTagsForResource"): Top("ResourceName", "TagList"),
    ("logs", "ListTagsForResource"): Top("resourceArn", "tags", "dict"),
    ("ecr", "ListTagsForResource"): Top("resourceArn", "tags"),
    ("servicediscovery", "ListTagsForResource"): Top("ResourceARN", "Tags"),
    ("cloudwatch", "ListTagsForResource"): Top("ResourceARN", "Tags"),
    ("elbv2", "DescribeTags"): Items("TagDescriptions", "ResourceArn", "Tags"),
    ("cloudfront", "ListTagsForResource"): Top("Resource", "Tags", "items"),
}
"""Every response a kind reads ownership tags from."""


def _merge(existing: Any, tags: Mapping[str, str], style: str) -> Any:
    if style == "dict":
        return {**(existing or {}), **tags}
    if style == "items":
        items = list((existing or {}).get("Items") or [])
        return {"Items": _merge(items, tags, "kv")}
    key, value = ("key", "value") if style == "kv-lower" else ("Key", "Value")
    kept = [t for t in existing or [] if t.get(key) not in tags]
    return kept + [{key: k, value: v} for k, v in tags.items()]


class Simulation:
    """AWS clients that show `adoptions` as already tagged."""

    def __init__(self, ctx: KindContext, adoptions: Sequence[Adoption], base: AwsClients) -> None:
        self.tags: dict[str, dict[str, str]] = {}
        self.live: dict[str, Mapping[str, str]] = {}
        for a in adoptions:
            self.tags[a.found.target] = ownership_tags(ctx, a.kind, a.logical_id)
            self.live[a.found.target] = a.found.tags
        self.clients = AwsClients(base.region, base.endpoint_url)
        self._hooked: set[str] = set()

    async def client(self, service: str) -> Any:
        client = await self.clients.client(service)
        if service not in self._hooked:
            self._hooked.add(service)
            events = client.meta.events
            events.register("before-parameter-build", functools.partial(self._request, service))
            events.register("before-call", functools.partial(self._answer, service))
            events.register("after-call", functools.partial(self._response, service))
        return client

    def _request(
        self, service: str, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context["adopt_params"] = dict(params)
        if service != "ec2":
            return
        for name in ("Filters", "Filter"):
            filters = params.get(name)
            if not filters:
                continue
            ours = [f for f in filters if str(f.get("Name", "")).startswith(TAG_FILTER_PREFIX)]
            if ours:
                params[name] = [f for f in filters if f not in ours]
                if not params[name]:
                    del params[name]
                context["adopt_tag_filters"] = ours

    def _answer(self, service: str, model: Any, context: Mapping[str, Any], **_: Any) -> Any:
        """S3 GetBucketTagging of an adopted bucket: answered here (a bucket with no tags
        would otherwise be an error, not an empty list)."""
        if service != "s3" or model.name != "GetBucketTagging":
            return None
        bucket = str((context.get("adopt_params") or {}).get("Bucket", ""))
        if bucket not in self.tags:
            return None
        tags = {**self.live.get(bucket, {}), **self.tags[bucket]}
        body = {"TagSet": _merge([], tags, "kv"), "ResponseMetadata": {"HTTPStatusCode": 200}}
        return SimpleNamespace(status_code=200, headers={}, content=b""), body

    def _response(
        self,
        service: str,
        model: Any,
        parsed: Any = None,
        context: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        read = READS.get((service, model.name))
        if read is None or not isinstance(parsed, dict):
            return
        if isinstance(read, Top):
            target = self._top_target(read, parsed, context or {})
            if target in self.tags:
                parsed[read.tags_key] = _merge(
                    parsed.get(read.tags_key), self.tags[target], read.style
                )
            return
        items = parsed.get(read.list_key) or []
        for item in items:
            target = str(item.get(read.id_key, ""))
            if target in self.tags:
                item[read.tags_key] = _merge(item.get(read.tags_key), self.tags[target], read.style)
        filters = (context or {}).get("adopt_tag_filters")
        if filters:
            parsed[read.list_key] = [i for i in items if _passes(i, filters)]

    @staticmethod
    def _top_target(read: Top, parsed: Mapping[str, Any], context: Mapping[str, Any]) -> str:
        if read.id_param == "taskDefinition":
            return str((parsed.get("taskDefinition") or {}).get("taskDefinitionArn", ""))
        return str((context.get("adopt_params") or {}).get(read.id_param, ""))

    async def close(self) -> None:
        await self.clients.close()


def _passes(item: Mapping[str, Any], filters: Sequence[Mapping[str, Any]]) -> bool:
    tags = {t.get("Key"): t.get("Value") for t in item.get("Tags") or []}
    return all(tags.get(str(f["Name"])[len("tag:") :]) in f.get("Values", []) for f in filters)
