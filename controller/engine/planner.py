"""Desired + observed -> Plan. Pure: no AWS calls.

Desired resources are planned in dependency order, so each sees what its references
will be: a resource being created or replaced has no outputs yet (known after apply).
Replacing a resource replaces every dependant bound to it (deleted before it, created
after it): a Ref that waits for a kind that binds its referrers (Kind.binds_referrers),
unlike the mere mention of an ARN or a name, which is updated in place after the new
one exists. If that cascade reaches a resource holding data, the whole of it is held.
An action whose outcome a held action decides is held too: nothing changes around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.engine.diff import diff, forces_replacement
from controller.engine.graph import observed_referrers, topological
from controller.engine.kind import CreatePlan, Kind, Resolved
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
        action.held = _data_loss(d.key)
    return action


def _data_loss(key: str) -> str:
    return (
        f"replacing {key} would lose its data; add {key!r} to spec.safety.allowReplace to allow it"
    )


def _apply_creation(action: Action, creation: CreatePlan | None, options: PlanOptions) -> None:
    if creation is None:
        return
    action.note = creation.note
    action.create_with = creation.create_with
    if creation.held and action.key in options.allow_replace:
        action.note = f"created empty: allowed by spec.safety.allowReplace ({creation.held})"
    else:
        action.held = creation.held


def _replaced_bindings(
    d: DesiredResource, actions: Mapping[str, Action], kinds: Mapping[str, Kind]
) -> list[str]:
    """Keys of resources being replaced that `d` is bound to: a Ref that waits for them,
    to a kind that binds its referrers (not the mere mention of an ARN or a name)."""
    keys = set()
    for ref in d.refs():
        action = actions.get(ref.key)
        if action is None or action.type is not ActionType.REPLACE or action.held:
            continue
        if ref.wait_ready and kinds[ref.kind].binds_referrers:
            keys.add(ref.key)
    return sorted(keys)


def _held_dependency(d: DesiredResource, actions: Mapping[str, Action]) -> str:
    for dep in sorted(d.dependencies()):
        action = actions.get(dep)
        if action is not None and action.held:
            return f"depends on held {dep}"
    return ""


@dataclass
class _Pass:
    actions: dict[str, Action] = field(default_factory=dict)
    causes: dict[str, list[str]] = field(default_factory=dict)
    """Replaced key -> the replacements that force it."""
    losing_data: list[str] = field(default_factory=list)
    """Keys of data-holding resources the cascade would replace without allowance."""


def _plan_desired(
    order: Sequence[DesiredResource],
    observed: Mapping[str, Observed],
    kinds: Mapping[str, Kind],
    options: PlanOptions,
    creations: Mapping[str, CreatePlan],
    held_roots: Mapping[str, str],
) -> _Pass:
    outputs = {key: obs.outputs for key, obs in observed.items()}
    out = _Pass()
    for d in order:
        kind = kinds[d.kind]
        action = _desired_action(d, kind, observed.get(d.key), outputs, options)
        if action.type is ActionType.CREATE:
            _apply_creation(action, creations.get(d.key), options)
        bound = _replaced_bindings(d, out.actions, kinds) if action.observed is not None else []
        if bound:
            out.causes[d.key] = bound
            if action.type is not ActionType.REPLACE:
                action.type = ActionType.REPLACE
                action.note = f"replaced with {', '.join(bound)}, which it is bound to"
            if kind.protects_data and d.key not in options.allow_replace:
                out.losing_data.append(d.key)
        if action.type is ActionType.REPLACE and d.key in held_roots:
            action.held = held_roots[d.key]
        if action.is_write and not action.held:
            action.held = _held_dependency(d, out.actions)
        if action.type is ActionType.REPLACE and not action.held:
            outputs = {k: v for k, v in outputs.items() if k != d.key}
        out.actions[d.key] = action
    return out


def _cascades_losing_data(planned: _Pass) -> dict[str, str]:
    """Root replacement -> why it is held, for every cascade that reaches data."""
    group: dict[str, str] = {}

    def find(key: str) -> str:
        while group.get(key, key) != key:
            key = group[key]
        return key

    for key, causes in planned.causes.items():
        for cause in causes:
            group[find(key)] = find(cause)
    members: dict[str, list[str]] = {}
    for key, action in planned.actions.items():  # held ones too: a held database counts
        if action.type is ActionType.REPLACE:
            members.setdefault(find(key), []).append(key)
    held: dict[str, str] = {}
    for keys in members.values():
        losing = sorted(k for k in keys if k in planned.losing_data)
        if not losing:
            continue
        roots = sorted(k for k in keys if k not in planned.causes)
        for root in roots:
            others = sorted(k for k in keys if k != root)
            held[root] = (
                f"replacing {root} would also replace the {len(others)} resources bound to "
                f"it: {', '.join(others)}; {', '.join(losing)} would lose its data. Add "
                f"{losing[0]!r} to spec.safety.allowReplace to allow it"
            )
    return held


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
    creations: Mapping[str, CreatePlan] | None = None,
) -> Plan:
    """`creations`: what each kind's `prepare_create` said about an absent resource."""
    order = topological(desired)
    held_roots: dict[str, str] = {}
    while True:  # each round holds more cascade roots; the live outputs of held ones stand
        planned = _plan_desired(order, observed, kinds, options, creations or {}, held_roots)
        more = {k: v for k, v in _cascades_losing_data(planned).items() if k not in held_roots}
        if not more:
            break
        held_roots.update(more)
    actions = sorted(planned.actions.values(), key=lambda a: a.key)
    wanted = {d.key for d in desired}
    actions += [
        _removal_action(key, kinds[key.split("/", 1)[0]], obs)
        for key, obs in sorted(observed.items())
        if key not in wanted
    ]
    plan = Plan(stack, spec_version, actions, dict(observed))
    _keep_what_retained_needs(plan)
    _guard_mass_deletion(plan, options)
    _propagate_holds(plan, order)
    return plan


def _propagate_holds(plan: Plan, order: Sequence[DesiredResource]) -> None:
    """Hold what depends on a held action, and what a held delete or replacement still uses."""
    actions = plan.by_key()
    referrers = observed_referrers(plan.observed)
    changed = True
    while changed:
        changed = False
        for d in order:
            action = actions[d.key]
            if action.is_write and not action.held:
                action.held = _held_dependency(d, actions)
                changed |= bool(action.held)
        for action in plan.actions:
            if action.type not in LOSES_LIVE or action.held:
                continue
            for other in sorted(referrers.get(action.key, ())):
                user = actions.get(other)
                if user is not None and user.held and user.type in LOSES_LIVE:
                    action.held = f"still used by held {other}"
                    changed = True
                    break


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


LOSES_LIVE = (ActionType.DELETE, ActionType.REPLACE)
"""Actions that delete the live resource."""


def _guard_mass_deletion(plan: Plan, options: PlanOptions) -> None:
    """Replacements count: each deletes a live resource before creating its successor."""
    if not options.guard_deletions:
        return
    limit = options.max_deletions
    if limit is None:
        limit = default_max_deletions(len(plan.observed))
    deletes = [a for a in plan.actions if a.type in LOSES_LIVE and not a.held]
    if len(deletes) <= limit:
        return
    reason = (
        f"mass-deletion guard: this plan deletes or replaces {len(deletes)} resources, more "
        f"than the limit of {limit}; raise spec.safety.maxDeletions to allow it"
    )
    for action in deletes:
        action.held = reason
    plan.notes.append(reason)
