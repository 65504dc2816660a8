"""Fargate task definition family: one container, registered as a new revision only when
the container definition really changed.

Observe lists the ACTIVE revisions (one call per page, the ARNs carry family and
revision), and describes only each family's latest revision. A revision's definition is
immutable, so it is described once per process (with its tags); its tags are not, so
every later observe takes them from the stack's tagging-API read (see stack_tags; one
call per 100 resources, shared with other kinds), and only a revision that read does not
return is asked with ListTagsForResource. Old revisions beyond `revisions_to_keep` are
deregistered after each registration.

A fresh process need not describe a revision we registered: the registration carries a
tag `stackop:definition` = `<revision>.<digest of the request>`. When the latest
revision's tag (from the tagging-API read) names that very revision and the digest of
the request the desired params would make, the revision holds exactly that request
(revisions are immutable) and is observed from it. A revision registered by anyone
else, even with our tags copied, names another revision number and is described.

"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from controller.engine import Delta, Kind, KindContext, Observed, Resolved
from controller.kinds.stack_tags import GET_RESOURCES, stack_tags
from controller.kinds.tags_common import (
    desired_tags,
    ignore_not_found,
    live_tags,
    params_by_id,
    tag_list,
    tag_map,
    tags_written,
)

DEFINITION_TAG = "stackop:definition"
ARN_RE = re.compile(r":task-definition/(?P<family>[^:]+):(?P<revision>\d+)$")
SECRET_KEY_RE = re.compile(
    r"^(?P<arn>arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+):(?P<key>[^:]*):[^:]*:[^:]*$"
)


def register_request(p: Mapping[str, Any]) -> dict[str, Any]:
    """RegisterTaskDefinition's arguments for the params, tags aside."""
    return {
        "family": p["family"],
        "taskRoleArn": p["task_role_arn"],
        "executionRoleArn": p["execution_role_arn"],
        "networkMode": p["network_mode"],
        "requiresCompatibilities": list(p["requires_compatibilities"]),
        "cpu": str(p["cpu"]),
        "memory": str(p["memory"]),
        "containerDefinitions": [container_api(p["container"])],
    }


def definition_tag(request: Mapping[str, Any], revision: int) -> str:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode())
    return f"{revision}.{digest.hexdigest()[:32]}"


def parse_arn(arn: str) -> tuple[str, int] | None:
    m = ARN_RE.search(arn)
    return (m["family"], int(m["revision"])) if m else None


def value_from(secret: Mapping[str, Any]) -> str:
    """A secret reference: the whole secret, or one JSON key of it (`arn:key::`)."""
    key = secret.get("json_key")
    return f"{secret['arn']}:{key}::" if key else str(secret["arn"])


def parse_value_from(value: str) -> dict[str, Any]:
    m = SECRET_KEY_RE.match(value)
    if m:
        return {"arn": m["arn"], "json_key": m["key"] or None}
    return {"arn": value, "json_key": None}


def image_string(image: Any) -> Any:
    """`{"repository": uri, "tag": t}` (the service's own repository) -> `uri:t`."""
    if isinstance(image, Mapping) and isinstance(image.get("repository"), str):
        return f"{image['repository']}:{image.get('tag') or 'latest'}"
    return image


def container_api(c: Mapping[str, Any]) -> dict[str, Any]:
    """The container definition we register, from the kind's `container` param."""
    out: dict[str, Any] = {
        "name": c["name"],
        "image": image_string(c["image"]),
        "essential": True,
        "portMappings": [{"containerPort": int(c["port"]), "protocol": "tcp"}],
        "environment": [{"name": k, "value": str(v)} for k, v in sorted(c["environment"].items())],
        "secrets": [
            {"name": k, "valueFrom": value_from(v)} for k, v in sorted(c["secrets"].items())
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": c["log_group"],
                "awslogs-region": c["log_region"],
                "awslogs-stream-prefix": c["log_stream_prefix"],
            },
        },
    }
    hc = c.get("health_check")
    if hc:
        out["healthCheck"] = {
            "command": list(hc["command"]),
            "interval": int(hc["interval"]),
            "timeout": int(hc["timeout"]),
            "retries": int(hc["retries"]),
            "startPeriod": int(hc["start_period"]),
        }
    return out


def container_fields(c: Mapping[str, Any]) -> dict[str, Any]:
    """A live container definition in the shape of the `container` param (AWS defaults folded)."""
    ports = c.get("portMappings") or [{}]
    options = (c.get("logConfiguration") or {}).get("options", {})
    hc = c.get("healthCheck")
    return {
        "name": c.get("name"),
        "image": c.get("image"),
        "port": ports[0].get("containerPort"),
        "environment": {e["name"]: e.get("value", "") for e in c.get("environment") or []},
        "secrets": {s["name"]: parse_value_from(s["valueFrom"]) for s in c.get("secrets") or []},
        "health_check": (
            {
                "command": list(hc.get("command", [])),
                "interval": hc.get("interval", 30),
                "timeout": hc.get("timeout", 5),
                "retries": hc.get("retries", 3),
                "start_period": hc.get("startPeriod", 0),
            }
            if hc
            else None
        ),
        "log_group": options.get("awslogs-group"),
        "log_region": options.get("awslogs-region"),
        "log_stream_prefix": options.get("awslogs-stream-prefix"),
    }


class TaskDefinition(Kind):
    name = "task_definition"
    service = "ecs"
    iam_actions = (
        "ecs:ListTaskDefinitions",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTagsForResource",
        GET_RESOURCES,
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:TagResource",
    )
    # RegisterTaskDefinition passes the execution and task roles.
    iam_implied = ("iam:PassRole",)
    ignore_fields = frozenset({"revisions_to_keep"})

    def normalise(self, path: str, value: Any) -> Any:
        return image_string(value) if path == "container.image" else value

    replace_fields = frozenset({"family"})
    binds_referrers = False  # referrers only name it

    def __init__(self) -> None:
        self._described: dict[str, dict[str, Any]] = {}

    async def _active(self, ctx: KindContext, family: str | None = None) -> dict[str, list[str]]:
        """ACTIVE revision ARNs of the stack's candidate families (or one family), oldest
        first. (ListTaskDefinitions' `familyPrefix` is an exact family name.)"""
        ecs = await ctx.client("ecs")
        families: dict[str, list[tuple[int, str]]] = {}
        only = {"familyPrefix": family} if family else {}
        async for page in ecs.get_paginator("list_task_definitions").paginate(
            status="ACTIVE", PaginationConfig={"PageSize": 100}, **only
        ):
            for arn in page.get("taskDefinitionArns", []):
                parsed = parse_arn(arn)
                if parsed and parsed[0].startswith(f"{ctx.stack}-"):
                    families.setdefault(parsed[0], []).append((parsed[1], arn))
        return {f: [arn for _, arn in sorted(revs)] for f, revs in families.items()}

    async def _describe(self, ctx: KindContext, arn: str) -> dict[str, Any]:
        cached = self._described.get(arn)
        if cached is None:
            ecs = await ctx.client("ecs")
            resp = await ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            cached = {**resp["taskDefinition"], "tags": resp.get("tags", [])}
            self._described[arn] = cached
        return cached

    def _as_registered(
        self,
        ctx: KindContext,
        arn: str,
        tags: Mapping[str, str] | None,
        wanted: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any] | None:
        """The revision as the request its definition tag vouches for, or None."""
        parsed = parse_arn(arn)
        logical_id = ctx.owns(tags or {})
        params = wanted.get(logical_id or "")
        if parsed is None or tags is None or params is None:
            return None
        try:
            request = register_request(params)
        except (KeyError, TypeError, ValueError):
            return None
        if tags.get(DEFINITION_TAG) != definition_tag(request, parsed[1]):
            return None
        td = {
            **request,
            "taskDefinitionArn": arn,
            "revision": parsed[1],
            "tags": tag_list(tags, "key", "value"),
        }
        self._described[arn] = td
        return td

    async def _latest(
        self,
        ctx: KindContext,
        arn: str,
        indexed: Mapping[str, dict[str, str]],
        wanted: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Any]:
        """A family's latest revision: the definition as described once, the tags as now."""
        cached = self._described.get(arn)
        if cached is None:
            registered = self._as_registered(ctx, arn, indexed.get(arn), wanted)
            return registered if registered is not None else await self._describe(ctx, arn)
        if arn in indexed:
            return {**cached, "tags": tag_list(indexed[arn], "key", "value")}
        ecs = await ctx.client("ecs")
        resp = await ignore_not_found(ecs.list_tags_for_resource(resourceArn=arn))
        if resp is None:  # deregistered since the list: keep what we knew
            return cached
        return {**cached, "tags": resp.get("tags", [])}

    def _observed(
        self,
        ctx: KindContext,
        logical_id: str,
        td: dict[str, Any],
        active: list[str],
        params: Mapping[str, Any] | None = None,
    ) -> Observed:
        containers = td.get("containerDefinitions", [])
        tags = tag_map(td.get("tags"), "key", "value")
        return Observed(
            logical_id=logical_id,
            physical_id=td["taskDefinitionArn"],
            fields={
                "family": td["family"],
                "cpu": str(td.get("cpu")),
                "memory": str(td.get("memory")),
                "network_mode": td.get("networkMode"),
                "requires_compatibilities": list(td.get("requiresCompatibilities", [])),
                "execution_role_arn": td.get("executionRoleArn"),
                "task_role_arn": td.get("taskRoleArn"),
                "container": container_fields(containers[0]) if containers else None,
                "tags": live_tags(ctx, self.name, logical_id, tags, params),
            },
            outputs={
                "arn": td["taskDefinitionArn"],
                "family": td["family"],
                "revision": td.get("revision"),
            },
            private={"active": active},
        )

    async def _owned(
        self,
        ctx: KindContext,
        only: str | None = None,
        wanted: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Observed]:
        active = {
            f: arns for f, arns in (await self._active(ctx, only)).items() if only in (None, f)
        }
        indexed = await stack_tags(ctx) if active else {}
        latest = await asyncio.gather(
            *(self._latest(ctx, arns[-1], indexed, wanted or {}) for arns in active.values())
        )
        found: dict[str, Observed] = {}
        for arns, td in zip(active.values(), latest, strict=True):
            logical_id = ctx.owns(tag_map(td.get("tags"), "key", "value"))
            if logical_id is not None and logical_id not in found:
                found[logical_id] = self._observed(
                    ctx, logical_id, td, arns, (wanted or {}).get(logical_id)
                )
        return found

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        return await self._owned(ctx, wanted=params_by_id(desired))

    async def _register(
        self, ctx: KindContext, desired: Resolved, latest: str | None = None
    ) -> Observed:
        """Register the next revision (after `latest`, the family's newest ACTIVE one)."""
        ecs = await ctx.client("ecs")
        p = desired.params
        request = register_request(p)
        parsed = parse_arn(latest) if latest else None
        tags = {
            **desired_tags(ctx, self.name, desired.logical_id, desired.params),
            DEFINITION_TAG: definition_tag(request, parsed[1] + 1 if parsed else 1),
        }
        resp = await ecs.register_task_definition(**request, tags=tag_list(tags, "key", "value"))
        td = {**resp["taskDefinition"], "tags": resp.get("tags") or tag_list(tags, "key", "value")}
        self._described[td["taskDefinitionArn"]] = td
        active = (await self._active(ctx, p["family"])).get(p["family"], [td["taskDefinitionArn"]])
        active = await self._prune(ctx, active, int(p.get("revisions_to_keep", 5)))
        return self._observed(ctx, desired.logical_id, td, active, desired.params)

    async def _prune(self, ctx: KindContext, active: list[str], keep: int) -> list[str]:
        ecs = await ctx.client("ecs")
        old, kept = active[: max(0, len(active) - keep)], active[-keep:]
        for arn in old:
            await ignore_not_found(ecs.deregister_task_definition(taskDefinition=arn))
        return kept

    async def create(self, ctx: KindContext, desired: Resolved) -> Observed:
        existing = (
            await self._owned(
                ctx, only=desired.params["family"], wanted={desired.logical_id: desired.params}
            )
        ).get(desired.logical_id)
        if existing is not None:
            return existing
        return await self._register(ctx, desired)

    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed:
        if delta.paths == ["tags"] or all(p.startswith("tags.") for p in delta.paths):
            ecs = await ctx.client("ecs")
            tags = desired_tags(ctx, self.name, desired.logical_id, desired.params)
            await ecs.tag_resource(
                resourceArn=observed.physical_id, tags=tag_list(tags, "key", "value")
            )
            tags_written(observed.physical_id, tags)
            self._described.pop(observed.physical_id, None)
            found = await self._owned(
                ctx, only=desired.params["family"], wanted={desired.logical_id: desired.params}
            )
            return found[desired.logical_id]
        active = observed.private.get("active") or [observed.physical_id]
        return await self._register(ctx, desired, active[-1])

    async def delete(self, ctx: KindContext, observed: Observed) -> None:
        ecs = await ctx.client("ecs")
        family = observed.fields["family"]
        arns = (await self._active(ctx, family)).get(family, [])
        for arn in arns:
            await ignore_not_found(ecs.deregister_task_definition(taskDefinition=arn))
