"""One reconcile of one stack, with everything the operator reports around it."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

from controller.engine import Action, ActionReport, ActionType, Outcome, ReconcileResult
from controller.operator import metrics, scaling
from controller.operator.analysis import Analysis, analyse, is_drift, params_fingerprint
from controller.operator.history import DriftHistory, Who
from controller.operator.logs import get_logger
from controller.operator.state import StackState
from controller.stack import StackRunner

VERIFY_AFTER = 1.0
"""After writes, observe again this soon to confirm (and clear the drift gauges)."""
WAITING_INTERVAL = 5.0


def _corrects_drift(state: StackState, action: Action) -> bool:
    if action.type not in (ActionType.UPDATE, ActionType.REPLACE) or action.observed is None:
        return False
    return is_drift(action.key, {action.key: params_fingerprint(action)}, state.params_seen)


def _remember_seen(seen: set[str], result: ReconcileResult) -> None:
    """Desired keys observed live; a key the stack itself deletes is forgotten."""
    for action in result.plan.actions:
        if action.type is ActionType.DELETE:
            seen.discard(action.key)
        elif action.desired is not None and action.observed is not None:
            seen.add(action.key)


class StackReconciler:
    def __init__(self, runner: StackRunner, resync: float, scaling_interval: float) -> None:
        self.runner = runner
        self.resync = resync
        self.scaling_interval = scaling_interval
        self._seen: dict[str, set[str]] = {}
        """Per stack, keys observed live at some point: evidence a missing one vanished."""
        self._history: dict[str, DriftHistory] = {}
        self._corrected: dict[str, list[tuple[str, float]]] = {}
        """Per stack, drift corrections of the reconcile under way (key, when)."""
        self.who: Who | None = None
        """Who changed a resource, from CloudTrail change events (when configured)."""

    async def reconcile(self, state: StackState, write: bool) -> float | None:
        """Run one reconcile; returns the requeue delay, or None for an error (backoff)."""
        assert state.loaded is not None
        state.reconcile_id = uuid.uuid4().hex[:12]
        log = get_logger(stack=state.name, reconcile_id=state.reconcile_id)
        started = time.monotonic()
        state.last_reconcile = time.time()

        def on_event(phase: str, report: ActionReport) -> None:
            self._action_event(state, log, phase, report)

        try:
            seen = self._seen.setdefault(state.name, set())
            seen.update(
                f"{r.kind}/{r.logical_id}"
                for r in state.resources
                if r.physical_id and r.action != ActionType.DELETE.value
            )
            result = await self.runner.reconcile(
                state.loaded, write=write, on_event=on_event, known=frozenset(seen)
            )
            _remember_seen(seen, result)
        except Exception as exc:
            metrics.RECONCILE_SECONDS.labels(state.name).observe(time.monotonic() - started)
            metrics.RECONCILES.labels(state.name, "error").inc()
            state.last_error = f"{type(exc).__name__}: {exc}"
            state.reconciled_once = True
            # what the last observation counted is no longer known: no stale in_sync series
            metrics.clear_stack(state.name, (metrics.RESOURCES,))
            log.error("reconcile_failed", error=state.last_error)
            return None
        elapsed = time.monotonic() - started
        metrics.RECONCILE_SECONDS.labels(state.name).observe(elapsed)
        found = analyse(result)
        self._drift(state, found, log, write)
        self._record(state, found, result)
        self._remember(state, found)
        self._export(state, found)
        await self._scaling(state, result)
        return self._finish(state, result, found, log, elapsed)

    def _drift(self, state: StackState, found: Analysis, log: Any, write: bool) -> None:
        """Count and log drift that is new since the last observation."""
        genuine = {
            k: v for k, v in found.drift.items() if is_drift(k, found.params, state.params_seen)
        }
        changes = {k: v for k, v in found.drift.items() if k not in genuine}
        for key, fields in changes.items():
            log.info("spec_change", kind=key.split("/")[0], resource=key, fields=list(fields))
        by_key = {f"{r.kind}/{r.logical_id}": r for r in found.resources}
        for key, fields in genuine.items():
            kind = key.split("/", 1)[0]
            if state.drift.get(key) != fields:
                metrics.DRIFT_DETECTED.labels(state.name, kind).inc()
            for path in fields:
                log.warning(
                    "drift",
                    kind=kind,
                    resource=by_key[key].logical_id,
                    field=path,
                    corrected=write,
                )
        state.drift = dict(genuine)

    def _record(self, state: StackState, found: Analysis, result: ReconcileResult) -> None:
        """Drift history: each drifted field (spec value, live value, who when an event
        named the resource), then the corrections this reconcile made."""
        history = self._history.get(state.name)
        if history is None:
            history = DriftHistory.from_json(state.name, state.history)
            self._history[state.name] = history
        actions = result.plan.by_key()
        for key, fields in state.drift.items():
            action = actions.get(key)
            if action is None:
                continue
            pid = action.observed.physical_id if action.observed is not None else ""
            who = self.who(state.name, pid) if self.who is not None and pid else None
            changes = [(c.path, c.new, c.old) for c in action.delta.changes if c.path in fields]
            history.detected(key, changes, who, state.last_reconcile)  # observed then
        for key, at in self._corrected.pop(state.name, []):
            history.corrected(key, at)
        state.history = history.to_json()

    def _action_event(self, state: StackState, log: Any, phase: str, report: ActionReport) -> None:
        action = report.action
        fields = {
            "kind": action.kind,
            "resource": action.logical_id,
            "action": action.type.value,
        }
        if phase == "start":
            log.info("action_started", **fields)
            return
        ok = report.outcome is Outcome.DONE
        verb = "update" if action.type is ActionType.REPLACE else action.type.value
        metrics.ACTIONS.labels(state.name, action.kind, verb, "success" if ok else "error").inc()
        if ok and _corrects_drift(state, action):
            metrics.DRIFT_CORRECTED.labels(state.name, action.kind).inc()
            self._corrected.setdefault(state.name, []).append((action.key, time.time()))
            fields["drift_corrected"] = "true"
        if ok:
            log.info("action_done", elapsed=round(report.elapsed, 3), **fields)
        else:
            log.error("action_failed", error=report.message, **fields)

    def _remember(self, state: StackState, found: Analysis) -> None:
        state.resources = found.resources
        state.params_seen = found.params
        state.held = found.held
        state.reconciled_once = True

    def _export(self, state: StackState, found: Analysis) -> None:
        name = state.name
        metrics.clear_stack(name, (metrics.RESOURCES, metrics.DRIFTED, metrics.DRIFTED_FIELDS))
        kinds = {r.kind for r in found.resources}
        counts = Counter((r.kind, r.state) for r in found.resources)
        for kind in kinds:
            for s in metrics.STATES:
                metrics.RESOURCES.labels(name, kind, s).set(counts[(kind, s)])
            metrics.DRIFTED.labels(name, kind).set(counts[(kind, "drifted")])
        for r in found.resources:
            for path in r.drifted_fields:
                metrics.DRIFTED_FIELDS.labels(name, r.kind, r.logical_id, path).set(1)
        metrics.ACTIONS_HELD.labels(name).set(len(found.held))

    async def _scaling(self, state: StackState, result: ReconcileResult) -> None:
        services = scaling.from_observed(result.plan.observed)
        now = time.monotonic()
        include_aws = now - state.last_scaling >= self.scaling_interval
        if include_aws:
            state.last_scaling = now
            try:
                await scaling.read_aws(self.runner.clients, services)
            except Exception as exc:  # scaling metrics must never fail a reconcile
                get_logger(stack=state.name).warning("scaling_read_failed", error=str(exc))
        scaling.export(state.name, services, include_aws=include_aws)

    def _finish(
        self, state: StackState, result: ReconcileResult, found: Analysis, log: Any, elapsed: float
    ) -> float | None:
        summary = result.plan.summary()
        for note in found.held:
            log.warning("action_held", detail=note)
        if found.failures:
            state.last_error = "; ".join(found.failures)
            metrics.RECONCILES.labels(state.name, "error").inc()
            log.error("reconcile_done", result="error", plan=summary, elapsed=round(elapsed, 3))
            return None
        state.last_error = ""
        state.last_success = time.time()
        metrics.RECONCILES.labels(state.name, "success").inc()
        metrics.LAST_SUCCESS.labels(state.name).set(state.last_success)
        log.info(
            "reconcile_done",
            result="success",
            plan=summary,
            drifted=len(found.drift),
            elapsed=round(elapsed, 3),
        )
        execution = result.execution
        if execution is not None:
            delay = execution.requeue_after(waiting_interval=WAITING_INTERVAL)
            if delay is not None:
                return min(delay, self.resync)
        if found.wrote:
            return min(VERIFY_AFTER, self.resync)
        return self.resync
