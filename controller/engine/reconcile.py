"""One reconcile of one stack: observe, plan, and (when allowed) execute.

Works from current state only (never from "what changed"), so running it again after
a crash or a partial failure simply continues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from controller.engine.errors import EngineError, Terminal
from controller.engine.executor import EventHook, ExecutionReport, Executor
from controller.engine.graph import check_acyclic
from controller.engine.kind import Kind, KindContext
from controller.engine.observe import observe_all
from controller.engine.plan import Plan
from controller.engine.planner import PlanOptions, make_plan
from controller.engine.resource import DesiredResource


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
) -> Plan:
    unknown = sorted({d.kind for d in desired} - set(kinds))
    if unknown:
        raise Terminal(f"no kind registered for: {', '.join(unknown)}")
    check_acyclic(desired)
    observed = await observe_all(kinds, ctx, desired)
    return make_plan(ctx.stack, ctx.spec_version, desired, observed, kinds, options)


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
) -> ReconcileResult:
    plan = await plan_stack(kinds, ctx, desired, options)
    if not write or plan.in_sync:
        return ReconcileResult(plan, None)
    executor = Executor(kinds, ctx, concurrency=concurrency, on_event=on_event, classify=classify)
    return ReconcileResult(plan, await executor.run(plan))
