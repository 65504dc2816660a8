"""Match the plan's creates to live, unowned resources: the spec's own names, spec.adopt,
or a Terraform state. Read-only."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from controller.adopt.lookup import Found, lookup, scoped_name
from controller.adopt.model import Adoption, AdoptionPlan
from controller.adopt.tagging import NOT_TAGGABLE, OWNED_THROUGH
from controller.adopt.visibility import invisible_reason
from controller.engine import Action, ActionType, KindContext, Plan
from controller.engine.resource import LOGICAL_ID_TAG, OWNER_TAG, STACK_TAG, resolve


class Finder(Protocol):
    async def find(
        self, ctx: KindContext, action: Action, params: Mapping[str, Any]
    ) -> tuple[Found, str] | None:
        """The live resource this create would adopt, and how it was matched."""
        ...

    def untouched(self, adopted: set[str]) -> list[str]:
        """Live resources this source knows of that no desired resource took."""
        ...

    def errors(self) -> list[str]:
        """Entries of this source that name nothing live."""
        ...


class ExplicitNames:
    """`spec.adopt: {kind/logical-id: name or id}`; with `by_name`, also the spec's own
    physical names (`--match-names`)."""

    def __init__(self, names: Mapping[str, str], by_name: bool) -> None:
        self.names = dict(names)
        self.by_name = by_name
        self._missing: dict[str, str] = {}

    async def find(
        self, ctx: KindContext, action: Action, params: Mapping[str, Any]
    ) -> tuple[Found, str] | None:
        explicit = self.names.get(action.key)
        if explicit is not None:
            found = await lookup(ctx, action.kind, explicit, params)
            if found is None:
                self._missing[action.key] = (
                    f"{action.key}: spec.adopt names {explicit!r}, which does not exist"
                )
                return None
            self._missing.pop(action.key, None)
            return found, "spec.adopt"
        if not self.by_name:
            return None
        name = scoped_name(action.kind, params)
        if name is None:
            return None
        found = await lookup(ctx, action.kind, name, params)
        return (found, "name") if found else None

    def untouched(self, adopted: set[str]) -> list[str]:
        return []

    def errors(self) -> list[str]:
        return sorted(self._missing.values())


OUTPUTS: dict[str, Mapping[str, str]] = {
    "vpc": {"id": "VpcId"},
    "subnet": {"id": "SubnetId"},
    "security_group": {"id": "GroupId"},
    "ecs_cluster": {"name": "clusterName", "arn": "clusterArn"},
    "service_discovery_namespace": {"id": "Id", "arn": "Arn"},
}
"""Outputs a later lookup needs (a service's cluster, a group's VPC), read from what an
earlier lookup returned; the kinds' own outputs replace them once the tags are on."""


def _outputs(found: Found) -> dict[str, Any]:
    return {
        out: found.extra[src]
        for out, src in OUTPUTS.get(found.kind, {}).items()
        if src in found.extra
    }


def _owner_problem(ctx: KindContext, found: Found) -> str | None:
    owner = found.tags.get(STACK_TAG)
    if found.tags.get(OWNER_TAG) and owner and owner != ctx.stack:
        return f"already owned by stack {owner!r} ({found.tags.get(LOGICAL_ID_TAG)})"
    return None


def _classify(ctx: KindContext, adoption: Adoption) -> None:
    if adoption.kind in NOT_TAGGABLE:
        adoption.held = f"cannot be adopted: {NOT_TAGGABLE[adoption.kind]}; a new one is created"
    elif adoption.kind in OWNED_THROUGH:
        adoption.via = OWNED_THROUGH[adoption.kind]
    reason = invisible_reason(ctx.stack, adoption.found)
    if reason:
        adoption.held = f"needs replacement (held): {reason}"


async def match(
    ctx: KindContext, plan: Plan, finders: Sequence[Finder], max_rounds: int = 6
) -> AdoptionPlan:
    """Adoptions for the plan's creates, in rounds: a resource whose lookup needs another's
    id (a service needs its cluster) is matched once that one is."""
    result = AdoptionPlan(plan.stack)
    result.owned = [a.key for a in plan.actions if a.desired is not None and a.observed is not None]
    creates = {a.key: a for a in plan.actions if a.type is ActionType.CREATE and a.desired}
    outputs: dict[str, Mapping[str, Any]] = {k: o.outputs for k, o in plan.observed.items()}
    taken: set[tuple[str, str]] = set()
    for _ in range(max_rounds):
        todo = [a for key, a in sorted(creates.items())]
        found = await asyncio.gather(
            *(_find(ctx, a, resolve(a.desired.params, outputs), finders) for a in todo if a.desired)
        )
        progressed = False
        for action, hit in zip(todo, found, strict=True):
            if hit is None or (action.kind, hit[0].target) in taken:
                continue
            problem = _owner_problem(ctx, hit[0])
            if problem:
                result.errors.append(f"{action.key}: {hit[0].name} is {problem}")
                del creates[action.key]
                continue
            adoption = Adoption(action.kind, action.logical_id, hit[0], hit[1])
            _classify(ctx, adoption)
            result.adoptions.append(adoption)
            taken.add((action.kind, hit[0].target))
            outputs[action.key] = _outputs(hit[0])
            del creates[action.key]
            progressed = True
        if not progressed:
            break
    result.creates = sorted(creates)
    adopted = {a.found.target for a in result.adoptions} | {a.found.name for a in result.adoptions}
    for finder in finders:
        result.untouched += finder.untouched(adopted)
        result.errors += finder.errors()
    result.adoptions.sort(key=lambda a: a.key)
    return result


async def _find(
    ctx: KindContext, action: Action, params: Mapping[str, Any], finders: Sequence[Finder]
) -> tuple[Found, str] | None:
    for finder in finders:
        hit = await finder.find(ctx, action, params)
        if hit is not None:
            return hit
    return None


def hold_what_follows_badly(adoption: AdoptionPlan, after: Plan) -> None:
    """Hold (leave untagged) what the plan after adoption would replace or still not find:
    adoption never leads to a replacement, least of all of a database."""
    adoption.after = after
    actions = after.by_key()
    for a in adoption.adoptions:
        action = actions.get(a.key)
        if a.held or action is None:
            continue
        if action.type is ActionType.CREATE:
            a.held = (
                "needs replacement (held): the stack's observe would not find it once "
                "tagged, so the next apply would create another"
            )
        elif action.type is ActionType.REPLACE:
            reason = action.note or ", ".join(action.replace_paths)
            a.held = f"needs replacement (held): {reason}; change the spec to match it"
