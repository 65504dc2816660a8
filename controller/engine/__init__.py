"""The generic reconcile engine. It never names a cloud service: kinds do that."""

from controller.engine.errors import EngineError, NotFound, Retryable, Terminal
from controller.engine.executor import (
    ActionReport,
    EventHook,
    ExecutionReport,
    Executor,
    Outcome,
)
from controller.engine.kind import CreatePlan, Delta, FieldChange, Kind, KindContext, Resolved
from controller.engine.observe import shared_read
from controller.engine.plan import Action, ActionType, Plan
from controller.engine.planner import PlanOptions, default_max_deletions, make_plan
from controller.engine.reconcile import ReconcileResult, plan_stack, reconcile_stack
from controller.engine.resource import UNKNOWN, DesiredResource, Observed, Ref

__all__ = [
    "UNKNOWN",
    "Action",
    "ActionReport",
    "ActionType",
    "CreatePlan",
    "Delta",
    "DesiredResource",
    "EngineError",
    "EventHook",
    "ExecutionReport",
    "Executor",
    "FieldChange",
    "Kind",
    "KindContext",
    "NotFound",
    "Observed",
    "Outcome",
    "Plan",
    "PlanOptions",
    "ReconcileResult",
    "Ref",
    "Resolved",
    "Retryable",
    "Terminal",
    "default_max_deletions",
    "make_plan",
    "plan_stack",
    "reconcile_stack",
    "shared_read",
]
