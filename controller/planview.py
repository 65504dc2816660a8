"""Human-readable plan output, in the spirit of `terraform plan`."""

from __future__ import annotations

import json
from typing import Any

from controller.engine import Action, ActionType, Plan
from controller.engine.resource import UNKNOWN

SYMBOL = {
    ActionType.CREATE: "+",
    ActionType.UPDATE: "~",
    ActionType.REPLACE: "-/+",
    ActionType.DELETE: "-",
    ActionType.RETAIN: "=",
}


def show(value: Any) -> str:
    if value is UNKNOWN:
        return "(known after apply)"
    return json.dumps(value, sort_keys=True, default=repr)


def _action_lines(action: Action) -> list[str]:
    head = f"{SYMBOL[action.type]} {action.key}"
    if action.observed is not None:
        head += f" ({action.observed.physical_id})"
    head += f": {action.type.value}"
    lines = [head]
    if action.type is ActionType.CREATE and action.resolved is not None:
        lines += [f"      {k}: {show(v)}" for k, v in sorted(action.resolved.params.items())]
    for change in action.delta.changes:
        lines.append(f"      {change.path}: {show(change.old)} -> {show(change.new)}")
    if action.note:
        lines.append(f"      note: {action.note}")
    if action.held:
        lines.append(f"      HELD: {action.held}")
    return lines


def render_plan(plan: Plan, unreconciled: list[str] | None = None) -> str:
    lines = [f"Stack {plan.stack} (spec {plan.spec_version})", ""]
    shown = [a for a in plan.actions if a.type is not ActionType.NOOP]
    for action in shown:
        lines += _action_lines(action)
    if shown:
        lines.append("")
    lines += plan.notes
    if plan.in_sync:
        lines.append(f"No changes. {plan.counts()['noop']} resources in sync.")
    lines.append(plan.summary())
    if unreconciled:
        lines.append("Not reconciled yet (no kinds for them): " + ", ".join(unreconciled))
    return "\n".join(lines)
