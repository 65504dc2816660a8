"""From a ReconcileResult to resource states and drift. Pure: no AWS, no metrics.

Drift is a plan action of type update/replace on an existing resource, its delta
the drifted fields. States reflect the last observation (so drift stays visible
until the follow-up observe confirms it corrected); only failures and waits seen
by the executor override them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.engine import Action, ActionType, Outcome, ReconcileResult
from controller.operator.state import ResourceStatus

PLAN_STATE = {
    ActionType.NOOP: "in_sync",
    ActionType.CREATE: "missing",
    ActionType.UPDATE: "drifted",
    ActionType.REPLACE: "drifted",
    ActionType.DELETE: "deleting",
    ActionType.RETAIN: "retained",
}


@dataclass
class Analysis:
    resources: list[ResourceStatus] = field(default_factory=list)
    drift: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """key -> drifted field paths."""
    params: dict[str, str] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wrote: bool = False


def params_fingerprint(action: Action) -> str:
    return repr(sorted(action.resolved.params.items())) if action.resolved else ""


def analyse(result: ReconcileResult) -> Analysis:
    out = Analysis()
    reports = result.execution.reports if result.execution else {}
    for action in result.plan.actions:
        state = PLAN_STATE[action.type]
        if state == "in_sync" and action.observed is not None and not action.observed.ready:
            state = "pending"
        fields: list[str] = []
        if action.type in (ActionType.UPDATE, ActionType.REPLACE):
            fields = action.delta.paths
            out.drift[action.key] = tuple(fields)
        message = action.held or action.note
        report = reports.get(action.key)
        if report is not None:
            if report.outcome is Outcome.FAILED:
                state, message = "failed", report.message
                out.failures.append(f"{action.key}: {report.message}")
            elif report.outcome in (Outcome.WAITING, Outcome.SKIPPED) and state != "drifted":
                state, message = "pending", report.message
            elif report.outcome is Outcome.DONE:
                out.wrote = True
        if action.held:
            out.held.append(f"{action.key}: {action.held}")
        if action.desired is not None:
            out.params[action.key] = params_fingerprint(action)
        out.resources.append(
            ResourceStatus(
                kind=action.kind,
                logical_id=action.logical_id,
                physical_id=action.observed.physical_id if action.observed else "",
                state=state,
                drifted_fields=fields,
                action=action.type.value,
                message=message,
            )
        )
    return out


def is_drift(key: str, params: dict[str, str], seen: dict[str, str]) -> bool:
    """An update is drift unless the desired params changed since the last reconcile."""
    before = seen.get(key)
    return before is None or before == params.get(key)
