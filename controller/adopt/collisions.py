"""Collision pre-flight: is a name the plan would create already taken by a resource that
is not this stack's? Then apply must refuse before any write (AWS would fail half-way,
or, for names AWS does not keep unique, build a second copy beside the first).

Only creates are checked, one lookup each, so a plan without creates (a converged
stack) costs no extra call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from controller.adopt import ORIGIN
from controller.adopt.lookup import Found, lookup, scoped_name
from controller.engine import Action, ActionType, KindContext, Plan
from controller.engine.origin import acting_as
from controller.engine.resource import STACK_TAG

if TYPE_CHECKING:
    from controller.spec import LoadedSpec
    from controller.stack import StackRunner

LOOKUP_CONCURRENCY = 16

NOT_UNIQUE = frozenset({"task_definition"})
"""Names AWS does not keep unique: registering into an existing family adds a revision."""


@dataclass(frozen=True)
class Taken:
    key: str
    name: str
    created: str
    owner: str

    def line(self) -> str:
        when = f", created {self.created}" if self.created else ""
        return f"! taken: {self.key} {self.name} ({self.owner}{when})"


def _owner(ctx: KindContext, found: Found) -> str:
    stack = found.tags.get(STACK_TAG)
    if stack and stack != ctx.stack:
        return f"stack {stack}'s"
    return "untagged" if not stack else "this stack's under another logical id"


def creates_to_check(plan: Plan) -> list[tuple[Action, str]]:
    """(create, the physical name it would claim) for every create with a known name."""
    out: list[tuple[Action, str]] = []
    for action in plan.actions:
        if action.type is not ActionType.CREATE or action.resolved is None:
            continue
        if action.kind in NOT_UNIQUE:
            continue
        name = scoped_name(action.kind, action.resolved.params)
        if name is not None:
            out.append((action, name))
    return out


async def find_taken(plan: Plan, ctx: KindContext) -> list[Taken]:
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def check(action: Action, name: str) -> Taken | None:
        assert action.resolved is not None
        async with gate:
            with acting_as(ORIGIN):
                found = await lookup(ctx, action.kind, name, action.resolved.params)
        if found is None or found.extra.get("recoverable"):
            return None  # (an empty untagged bucket is the kind's to take over on create)
        return Taken(action.key, name, found.created, _owner(ctx, found))

    results = await asyncio.gather(*(check(a, n) for a, n in creates_to_check(plan)))
    return [t for t in results if t is not None]


def report(taken: Sequence[Taken]) -> str:
    lines = [t.line() for t in taken]
    lines.append(
        f"{len(taken)} names this plan would create are taken: apply refuses to start; "
        "adopt them (`stackop adopt`) or rename them (spec.names)"
    )
    return "\n".join(lines)


async def preflight(
    runner: StackRunner, loaded: LoadedSpec, plan: Plan | None = None
) -> list[Taken]:
    """The taken names of `plan` (planned now if not given)."""
    if plan is None:
        plan = await runner.plan(loaded)
    return await find_taken(plan, runner.context(loaded))


def as_json(taken: Sequence[Taken]) -> list[dict[str, str]]:
    return [asdict(t) for t in taken]
