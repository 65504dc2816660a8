"""The contract every kind passes (DESIGN.md, Testing):

observe absent -> create -> observe in sync -> create again is a no-op -> change a field
out of band -> the delta shows it -> update -> in sync -> delete -> delete again is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controller.aws import AwsClients, classify
from controller.engine import (
    ActionType,
    DesiredResource,
    Kind,
    KindContext,
    Observed,
    PlanOptions,
    Resolved,
    plan_stack,
    reconcile_stack,
)
from controller.engine.resource import resolve
from controller.kinds import all_kinds


@dataclass
class ContractCase:
    """`desired` holds the resource under test (`key`) and everything it references."""

    desired: Sequence[DesiredResource]
    key: str
    drift: Callable[[str, Observed], None]
    """Change the live resource out of band (endpoint, observed) with a separate client."""
    drift_field: str
    stack: str = "contract"


def _ctx(clients: AwsClients, stack: str) -> KindContext:
    return KindContext(stack=stack, spec_version="v1", clients=clients, user_tags={"Team": "qa"})


async def _plan_action(
    kinds: dict[str, Kind], ctx: KindContext, desired: Sequence[DesiredResource], key: str
) -> Any:
    plan = await plan_stack(kinds, ctx, desired, PlanOptions(guard_deletions=False))
    return plan.by_key()[key], plan


async def _contract(endpoint: str, case: ContractCase) -> None:
    # Only the kinds under test: observing every registered kind would test nothing more.
    wanted = {d.kind for d in case.desired}
    kinds = {name: kind for name, kind in all_kinds().items() if name in wanted}
    kind_name, _, logical_id = case.key.partition("/")
    kind = kinds[kind_name]
    target = next(d for d in case.desired if d.key == case.key)
    deps = [d for d in case.desired if d.key != case.key]
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = _ctx(clients, case.stack)
        opts = PlanOptions(guard_deletions=False)
        if deps:
            res = await reconcile_stack(kinds, ctx, deps, opts, write=True, classify=classify)
            assert res.execution is None or res.execution.converged, res.execution
        # 1. absent
        action, _ = await _plan_action(kinds, ctx, case.desired, case.key)
        assert action.type is ActionType.CREATE, action
        # 2. create, 3. in sync
        res = await reconcile_stack(kinds, ctx, case.desired, opts, write=True, classify=classify)
        assert res.execution is not None and res.execution.converged, res.execution
        action, plan = await _plan_action(kinds, ctx, case.desired, case.key)
        assert action.type is ActionType.NOOP, (action.type, action.delta)
        first = action.observed
        # 4. create again is a no-op (same physical resource, no duplicate)
        outputs = {k: o.outputs for k, o in plan.observed.items()}
        again = await kind.create(
            ctx, Resolved(kind_name, logical_id, resolve(target.params, outputs))
        )
        assert again.physical_id == first.physical_id
        found = await kind.observe(ctx, [])
        assert list(found) == [logical_id] or logical_id in found
        # 5. out-of-band change shows in the delta
        case.drift(endpoint, first)
        action, _ = await _plan_action(kinds, ctx, case.desired, case.key)
        assert action.type in (ActionType.UPDATE, ActionType.REPLACE), action.type
        assert action.delta.changed(case.drift_field), action.delta
        # 6. update -> in sync
        res = await reconcile_stack(kinds, ctx, case.desired, opts, write=True, classify=classify)
        assert res.execution is not None and res.execution.converged, res.execution
        action, _ = await _plan_action(kinds, ctx, case.desired, case.key)
        assert action.type is ActionType.NOOP, (action.type, action.delta)
        # 7. delete, and delete again
        await kind.delete(ctx, action.observed)
        assert logical_id not in await kind.observe(ctx, [])
        await kind.delete(ctx, action.observed)


def run_contract(endpoint: str, case: ContractCase) -> None:
    asyncio.run(_contract(endpoint, case))
