"""Out-of-band drift, planned and corrected by the engine in this process.

The engine marks the acting kind, so the least-privilege audit attributes every call a
correction makes to the kind whose write path it exercises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.aws import AwsClients, classify
from controller.engine import (
    ActionType,
    DesiredResource,
    FieldChange,
    Kind,
    KindContext,
    PlanOptions,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds

OPTIONS = PlanOptions(guard_deletions=False)


@dataclass
class Correction:
    """What the plan showed for the drifted field, and the writes that corrected it."""

    change: FieldChange
    writes: list[str]
    """`service:Operation` of every write call the reconcile made, in order."""


def _kinds(desired: Sequence[DesiredResource]) -> dict[str, Kind]:
    """Only the kinds under test: observing every registered kind would test nothing more."""
    wanted = {d.kind for d in desired}
    return {name: kind for name, kind in all_kinds().items() if name in wanted}


async def drift_and_correct(
    endpoint: str,
    stack: str,
    desired: Sequence[DesiredResource],
    key: str,
    field: str,
    drift: Callable[[str], None],
) -> Correction:
    """Converge `desired`, run `drift(physical_id)` out of band, plan, reconcile, re-plan.

    Asserts the plan shows `key` as an UPDATE of `field` and that the stack is in sync
    after one reconcile with write=True.
    """
    kinds = _kinds(desired)
    async with AwsClients(endpoint_url=endpoint) as clients:
        ctx = KindContext(stack=stack, spec_version="v1", clients=clients, user_tags={"Team": "qa"})
        res = await reconcile_stack(kinds, ctx, desired, OPTIONS, write=True, classify=classify)
        assert res.converged, res.execution
        plan = await plan_stack(kinds, ctx, desired, OPTIONS)
        assert plan.in_sync, [(a.key, a.delta) for a in plan.actions if a.is_write]
        observed = plan.by_key()[key].observed
        assert observed is not None
        drift(observed.physical_id)
        # Fresh kinds, as after an operator restart: nothing cached from the create.
        kinds = _kinds(desired)
        plan = await plan_stack(kinds, ctx, desired, OPTIONS)
        drifted = [a for a in plan.actions if a.is_write]
        assert [(a.key, a.type) for a in drifted] == [(key, ActionType.UPDATE)], drifted
        changes = [c for c in drifted[0].delta.changes if c.path == field]
        assert len(changes) == 1, drifted[0].delta
        mark = clients.recorder.mark()
        res = await reconcile_stack(kinds, ctx, desired, OPTIONS, write=True, classify=classify)
        assert res.converged, res.execution
        writes = [f"{c.service}:{c.operation}" for c in clients.recorder.writes(mark)]
        plan = await plan_stack(kinds, ctx, desired, OPTIONS)
        assert plan.in_sync, [(a.key, a.delta) for a in plan.actions if a.is_write]
        return Correction(changes[0], writes)
