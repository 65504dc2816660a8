"""The adoption plan as text: what is tagged, held, created, left alone, and what follows."""

from __future__ import annotations

from controller.adopt.model import AdoptionPlan
from controller.engine import ActionType


def render_adoption(plan: AdoptionPlan) -> str:
    lines = [f"Adoption plan for stack {plan.stack} (writes ownership tags only):"]
    for error in plan.errors:
        lines.append(f"  ! error: {error}")
    for a in plan.adoptions:
        if a.held:
            continue
        suffix = f" (no tag call: owned through {a.via})" if a.via else ""
        lines.append(f"  ~ adopt {a.key} {a.found.target} [{a.source}]{suffix}")
    if plan.after is not None:
        lines += _follows(plan)
    for a in plan.held:
        lines.append(f"  ! held {a.key} {a.found.name}: {a.held}")
    if plan.creates:
        lines.append(f"  + to create (nothing to adopt): {', '.join(plan.creates)}")
    if plan.untouched:
        lines.append(f"  untouched, not described by the spec ({len(plan.untouched)}):")
        lines += [f"    {item}" for item in plan.untouched]
    lines.append(
        f"Adoption: {len(plan.to_tag)} to tag, "
        f"{len([a for a in plan.adoptions if a.via])} owned through others, "
        f"{len(plan.held)} held, {len(plan.creates)} to create, "
        f"{len(plan.owned)} already owned, {len(plan.untouched)} untouched."
    )
    if plan.state_rm:
        lines.append(
            "Once adopted, Terraform must forget them (so it never manages them again):\n"
            "  terraform state rm " + " ".join(f"'{a}'" for a in plan.state_rm)
        )
    return "\n".join(lines)


def _follows(plan: AdoptionPlan) -> list[str]:
    assert plan.after is not None
    adopted = {a.key for a in plan.adoptions if not a.held}
    lines: list[str] = []
    for action in plan.after.actions:
        if action.key not in adopted or action.type is ActionType.NOOP:
            continue
        lines.append(f"    then {action.type.value} {action.key}")
        for change in action.delta.changes:
            lines.append(f"      {change.path}: {change.old!r} -> {change.new!r}")
        if action.held:
            lines.append(f"      held: {action.held}")
    if lines:
        lines.insert(0, "  Field updates the next apply makes on adopted resources:")
    return lines
