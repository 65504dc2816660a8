"""Desired + observed -> Plan. Pure: no AWS calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.engine.diff import diff, forces_replacement
from controller.engine.graph import observed_referrers
from controller.engine.kind import Kind, Resolved
from controller.engine.plan import Action, ActionType, Plan
from controller.engine.resource import DesiredResource, Observed, resolve


@dataclass(frozen=True)
class PlanOptions:
    guard_deletions: bool = True
    """False only for an explicit teardown."""
    max_deletions: int | None = None
    """More deletions than this are held; None means 10 % of the stack, at least 1."""
    allow_replace: frozenset[str] = field(default_factory=frozenset)


def default_max_deletions(resource_count: int) -> int:
    """10 % of the stack, at least 1."""
    return max(1, resource_count // 10)


def _desired_action(
    d: DesiredResource,
    kind: Kind,
    observed: Observed | None,
    outputs: Mapping[str, Mapping[str, object]],
    options: PlanOptions,
) -> Action:
    resolved = Resolved(d.kind, d.logical_id, resolve(d.params, outputs))
    if observed is None:
        return Action(d.kind, d.logical_id, ActionType.CREATE, d, resolved)
    delta = diff(kind, resolved.params, observed.fields)
    if not delta:
        return Action(d.kind, d.logical_id, ActionType.NOOP, d, resolved, observed)
    replace = forces_replacement(kind, delta)
    if not replace:
        action = Action(d.kind, d.logical_id, ActionType.UPDATE, d, resolved, observed, delta)
        action.held = kind.check_update(resolved, observed, delta) or ""
        return action
    action = Action(
        d.kind,
        d.logical_id,
        ActionType.REPLACE,
        d,
        resolved,
        observed,
        delta,
        note=f"{', '.join(replace)} can only change by replacing the resource",
        replace_paths=tuple(replace),
    )
    if kind.protects_data and d.key not in options.allow_replace:
        action.held = (
            f"replacing {d.key} would lose its data; add {d.key!r} to "
            "spec.safety.allowReplace to allow it"
        )
    return action


def _removal_action(key: str, kind: Kind, observed: Observed) -> Action:
    name, _, logical_id = key.partition("/")
    mode, note = kind.deletion(observed)
    if mode == "retain":
        return Action(name, logical_id, ActionType.RETAIN, observed=observed, note=note)
    action = Action(name, logical_id, ActionType.DELETE, observed=observed, note=note)
    refusal = kind.check_deletable(observed)
    if refusal:
        action.held = refusal
    return action


def make_plan(
    stack: str,
    spec_version: str,
    desired: Sequence[DesiredResource],
    observed: Mapping[str, Observed],
    kinds: Mapping[str, Kind],
    options: PlanOptions,
) -> Plan:
    outputs = {key: obs.outputs for key, obs in observed.items()}
    actions = [
        _desired_action(d, kinds[d.kind], observed.get(d.key), outputs, options)
        for d in sorted(desired, key=lambda d: d.key)
    ]
    wanted = {d.key for d in desired}
    actions += [
        _removal_action(key, kinds[key.split("/", 1)[0]], obs)
        for key, obs in sorted(observed.items())
        if key not in wanted
    ]
    plan = Plan(stack, spec_version, actions, dict(observed))
    _keep_what_retained_needs(plan)
    _guard_mass_deletion(plan, options)
    return plan


def _keep_what_retained_needs(plan: Plan) -> None:
    """A retained resource keeps running, so what it uses (by its live fields) is kept too.

    E.g. a data store left running by its deletion policy keeps the network resources it
    sits in: deleting them would fail in the cloud and leave it unusable.
    """
    retained = [a.key for a in plan.actions if a.type is ActionType.RETAIN]
    if not retained:
        return
    uses: dict[str, set[str]] = {key: set() for key in plan.observed}
    for target, referrers in observed_referrers(plan.observed).items():
        for referrer in referrers:
            uses[referrer].add(target)
    kept_for: dict[str, str] = {}
    todo = list(retained)
    while todo:
        key = todo.pop()
        for target in sorted(uses.get(key, ())):
            if target not in kept_for and target not in retained:
                kept_for[target] = kept_for.get(key, key)
                todo.append(target)
    for action in plan.actions:
        if action.type is ActionType.DELETE and action.key in kept_for:
            action.type = ActionType.RETAIN
            action.note = f"kept: retained {kept_for[action.key]} still uses it"
            action.held = ""


def _guard_mass_deletion(plan: Plan, options: PlanOptions) -> None:
    if not options.guard_deletions:
        return
    limit = options.max_deletions
    if limit is None:
        limit = default_max_deletions(len(plan.observed))
    deletes = [a for a in plan.actions if a.type is ActionType.DELETE and not a.held]
    if len(deletes) <= limit:
        return
    reason = (
        f"mass-deletion guard: this plan deletes {len(deletes)} resources, more than the "
        f"limit of {limit}; raise spec.safety.maxDeletions to allow it"
    )
    for action in deletes:
        action.held = reason
    plan.notes.append(reason)
