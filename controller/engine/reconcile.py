"""One reconcile of one stack: observe, plan, and (when allowed) execute.

Works from current state only (never from "what changed"), so running it again after
a crash or a partial failure simply continues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from controller.engine.errors import EngineError, Terminal
from controller.engine.executor import EventHook, ExecutionReport, Executor
from controller.engine.graph import check_acyclic
from controller.engine.kind import CreatePlan, Kind, KindContext, Resolved
from controller.engine.observe import observe_all
from controller.engine.origin import acting_as
from controller.engine.plan import Plan
from controller.engine.planner import PlanOptions, make_plan
from controller.engine.resource import DesiredResource, Observed, resolve
from controller.engine.vanished import existed_before


@dataclass
class ReconcileResult:
    plan: Plan
    execution: ExecutionReport | None
    """None when nothing was written (observe mode, paused, or a plan-only run)."""

    @property
    def converged(self) -> bool:
        if self.execution is None:
            return self.plan.in_sync
        return self.execution.converged


async def plan_stack(
    kinds: Mapping[str, Kind],
    ctx: KindContext,
    desired: Sequence[DesiredResource],
    options: PlanOptions,
    known: Iterable[str] = (),
) -> Plan:
    """`known`: keys the caller saw observed before (evidence that an absent one vanished)."""
    unknown = sorted({d.kind for d in desired} - set(kinds))
    if unknown:
        raise Terminal(f"no kind registered for: {', '.join(unknown)}")
    check_acyclic(desired)
    observed = await observe_all(kinds, ctx, desired)
    creations = await _prepare_creates(kinds, ctx, desired, observed, known)
    return make_plan(ctx.stack, ctx.spec_version, desired, observed, kinds, options, creations)


async def _prepare_creates(
    kinds: Mapping[str, Kind],
    ctx: KindContext,
    desired: Sequence[DesiredResource],
    observed: Mapping[str, Observed],
    known: Iterable[str],
) -> dict[str, CreatePlan]:
    """Ask each kind how it would create its absent resources (only those pay a read)."""
    absent = [d for d in desired if d.key not in observed]
    if not absent:
        return {}
    existed = existed_before(desired, observed, known)
    outputs = {key: obs.outputs for key, obs in observed.items()}

    async def one(d: DesiredResource) -> CreatePlan:
        resolved = Resolved(d.kind, d.logical_id, resolve(d.params, outputs))
        with acting_as(d.kind):
            return await kinds[d.kind].prepare_create(ctx, resolved, d.key in existed)

    plans = await asyncio.gather(*(one(d) for d in absent))
    return {d.key: p for d, p in zip(absent, plans, strict=True)}


async def reconcile_stack(
    kinds: Mapping[str, Kind],
    ctx: KindContext,
    desired: Sequence[DesiredResource],
    options: PlanOptions,
    *,
    write: bool,
    concurrency: int = 8,
    on_event: EventHook | None = None,
    classify: Callable[[Exception], EngineError] | None = None,
    known: Iterable[str] = (),
) -> ReconcileResult:
    plan = await plan_stack(kinds, ctx, desired, options, known)
    if not write or plan.in_sync:
        return ReconcileResult(plan, None)
    executor = Executor(kinds, ctx, concurrency=concurrency, on_event=on_event, classify=classify)
    return ReconcileResult(plan, await executor.run(plan))
