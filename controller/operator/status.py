"""Status documents: conditions and resources per stack, for /status and status/<stack>.json."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from controller.operator.leases import LEASE_PREFIX
from controller.operator.state import Condition, ResourceStatus, StackState

STATUS_PREFIX = "status/"
VOLATILE = ("lastReconcileTime", "lastSuccessTime", "reconcileId", "observedAt", "memory")
MEMORY_REFRESH = 300.0
"""Seconds after which the status object is rewritten for its memory alone: the kinds'
readings (engine.memory) a fresh `stackop plan` starts from stay younger than their
age limit (readings up to a rotation old, plus this)."""


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


def set_condition(state: StackState, name: str, status: bool, reason: str, message: str) -> None:
    old = state.conditions.get(name)
    since = old.since if old is not None and old.status == status else time.time()
    state.conditions[name] = Condition(status, reason, message, since)


def conflict_condition(state: StackState) -> None:
    """Conflict: no spec object is applied to the stack (two keys name it, or a rename is held)."""
    reason = (state.conflict_reason or "Conflict") if state.conflict else "NoConflict"
    set_condition(state, "Conflict", bool(state.conflict), reason, state.conflict)


def reconciling(state: StackState) -> tuple[bool, str, str]:
    """Whether this process reconciles the stack: (status, reason, message)."""
    if state.orphaned:
        return False, "SpecRemoved", "spec object removed; the stack is not managed"
    if state.lease_held:
        return True, "LeaseHeld", f"lease held by {state.lease_holder or 'this process'}"
    if state.lease_problem:
        return (
            False,
            "LeaseUnreadable",
            f"{lease_key(state.name)} is not a lease ({state.lease_problem}); it is "
            "overwritten once it has stayed unchanged for a lease period",
        )
    if state.lease_holder:
        return False, "LeaseHeldByOther", f"lease held by {state.lease_holder}"
    return False, "LeaseNotHeld", "the stack's lease is not held yet"


def resources_stale(state: StackState) -> bool:
    """The resources shown are not what AWS has now (or not known to be)."""
    return bool(state.resources) and (state.observe_failed or not state.lease_held)


def update_conditions(state: StackState) -> None:
    conflict_condition(state)
    counts = Counter(r.state for r in state.resources)
    drifted = counts["drifted"]
    unsettled = counts["missing"] + counts["pending"] + counts["failed"]
    if state.orphaned:
        set_condition(
            state, "Orphaned", True, "SpecRemoved", "spec object removed; nothing deleted"
        )
    else:
        state.conditions.pop("Orphaned", None)
    set_condition(
        state,
        "SpecInvalid",
        bool(state.spec_error),
        "ValidationFailed" if state.spec_error else "Valid",
        state.spec_error,
    )
    set_condition(
        state,
        "Paused",
        state.paused,
        "SpecPaused" if state.paused else ("ObserveMode" if state.mode == "observe" else "Active"),
        "no writes" if not state.writes_allowed else "",
    )
    set_condition(
        state,
        "Drifted",
        drifted > 0,
        "DriftDetected" if drifted else "NoDrift",
        f"{drifted} resource(s) differ from the spec" if drifted else "",
    )
    active, lease_reason, lease_message = reconciling(state)
    set_condition(state, "Reconciling", active, lease_reason, lease_message)
    synced = state.reconciled_once and not state.last_error and not state.held and active
    reason = "ReconcileError" if state.last_error else ("Held" if state.held else "Reconciled")
    if not state.reconciled_once:
        reason = "NotReconciled"
    if not active:
        reason = lease_reason
    set_condition(state, "Synced", synced, reason, state.last_error or "; ".join(state.held))
    ready = synced and not drifted and not unsettled and not state.orphaned
    set_condition(state, "Ready", ready, *_not_ready(state, active, drifted, unsettled))


def _not_ready(state: StackState, active: bool, drifted: int, unsettled: int) -> tuple[str, str]:
    """Ready's reason and message: the first thing that keeps the stack from being ready."""
    if not active:
        return reconciling(state)[1:]
    if state.last_error:
        return "ReconcileError", state.last_error
    if state.held:
        return "Held", "; ".join(state.held)
    if not state.reconciled_once:
        return "NotReconciled", "not reconciled yet"
    if drifted:
        return "Drifted", f"{drifted} resource(s) differ from the spec"
    if unsettled:
        return "NotConverged", f"{unsettled} resource(s) not ready"
    return "InSync", ""


def _resource(r: ResourceStatus, stale: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": r.kind,
        "logicalId": r.logical_id,
        "physicalId": r.physical_id or None,
        "state": "unknown" if stale else r.state,
        "driftedFields": r.drifted_fields,
        "action": r.action,
    }
    if stale:
        doc["lastObservedState"] = r.state
    if r.message:
        doc["message"] = r.message
    return doc


def status_doc(
    state: StackState, identity: str, memory: dict[str, Any] | None = None
) -> dict[str, Any]:
    loaded = state.loaded
    stale = resources_stale(state)
    resources = [_resource(r, stale) for r in state.resources]
    return {
        "stack": state.name,
        "specKey": state.key,
        "specVersion": loaded.version if loaded else None,
        "mode": state.mode,
        "paused": state.paused,
        "teardown": bool(loaded and loaded.spec.spec.teardown),
        "orphaned": state.orphaned,
        "phantom": state.phantom,
        "conflict": state.conflict or None,
        "holder": identity if state.lease_held else state.lease_holder,
        "conditions": [
            {
                "type": name,
                "status": "True" if c.status else "False",
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": _iso(c.since),
            }
            for name, c in sorted(state.conditions.items())
        ],
        "summary": dict(sorted(Counter(r["state"] for r in resources).items())),
        "resourcesStale": stale,
        "observedAt": _iso(state.observed_at),
        "resources": resources,
        "held": state.held,
        "specError": state.spec_error or None,
        "lastError": state.last_error or None,
        "lastReconcileTime": _iso(state.last_reconcile),
        "lastSuccessTime": _iso(state.last_success),
        "reconcileId": state.reconcile_id or None,
        "driftHistory": state.history,
        "memory": memory or {},
    }


def fingerprint(doc: dict[str, Any]) -> str:
    """The doc without what changes every reconcile, to write only on real changes."""
    stable = {k: v for k, v in doc.items() if k not in VOLATILE}
    stable["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in doc["conditions"]
    ]
    return json.dumps(stable, sort_keys=True)


def status_key(stack: str) -> str:
    return f"{STATUS_PREFIX}{stack}.json"


def lease_key(stack: str) -> str:
    return f"{LEASE_PREFIX}{stack}.json"


def render_table(docs: list[dict[str, Any]]) -> str:
    """`stackop status`: one block per stack, resources that are not in sync listed."""
    lines: list[str] = []
    header = f"{'STACK':40} {'VERSION':34} {'MODE':8} {'READY':6} {'SYNCED':7} {'DRIFTED':8} HOLDER"
    lines.append(header)
    for doc in docs:
        conds = {c["type"]: c for c in doc.get("conditions", [])}

        def flag(name: str, conds: dict[str, Any] = conds) -> str:
            return str(conds.get(name, {}).get("status", "-"))

        mode = "paused" if doc.get("paused") else str(doc.get("mode", ""))
        lines.append(
            f"{doc['stack']:40} {doc.get('specVersion') or '-'!s:34} {mode:8} "
            f"{flag('Ready'):6} {flag('Synced'):7} {flag('Drifted'):8} {doc.get('holder') or '-'}"
        )
        lines += _resource_lines(doc)
        reconciling = conds.get("Reconciling", {})
        if reconciling.get("status") == "False":
            lines.append(f"  not reconciled by this process: {reconciling.get('message')}")
        for problem in ("orphaned",):
            if doc.get(problem):
                lines.append(f"  {problem}: spec object removed; nothing deleted")
        if doc.get("conflict"):
            lines.append(f"  conflict: {doc['conflict']}")
        if doc.get("specError"):
            lines.append("  spec invalid (still enforcing the last valid spec):")
            lines += [f"    {line}" for line in str(doc["specError"]).splitlines()]
        if doc.get("lastError"):
            lines.append(f"  last error: {doc['lastError']}")
        for note in doc.get("held", []):
            lines.append(f"  held: {note}")
        for r in doc.get("resources", []):
            if r["state"] not in ("in_sync", "unknown"):
                fields = ", ".join(r.get("driftedFields", []))
                extra = f" ({fields})" if fields else ""
                lines.append(f"  {r['state']:9} {r['kind']}/{r['logicalId']}{extra}")
    return "\n".join(lines)


def _resource_lines(doc: dict[str, Any]) -> list[str]:
    summary = ", ".join(f"{n} {s}" for s, n in doc.get("summary", {}).items())
    if not summary:
        return []
    if not doc.get("resourcesStale"):
        return [f"  resources: {summary}"]
    last = Counter(str(r.get("lastObservedState")) for r in doc.get("resources", []))
    seen = ", ".join(f"{n} {s}" for s, n in sorted(last.items()))
    return [f"  resources: {summary} (last observed {doc.get('observedAt') or '-'}: {seen})"]
