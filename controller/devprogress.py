"""`make run`'s terminal lines: the operator's JSON log events a person wants to see
(spec pushes, converge progress, drift found and corrected, failures), one short line each.
The JSON itself goes on to the log file untouched."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import IO, Any

ACTION_MARKS = {"create": "+", "update": "~", "replace": "±", "delete": "-", "retain": "="}


class Progress:
    """Turns JSON log lines into human lines; quiet when a resync changes nothing."""

    def __init__(self) -> None:
        self._last_plan: dict[str, str] = {}

    def line(self, raw: str) -> str | None:
        try:
            event = json.loads(raw)
        except ValueError:
            return raw.rstrip() or None  # not JSON (a crash message): show it as it is
        if not isinstance(event, dict):
            return None
        name = str(event.get("event", ""))
        handler = self._handlers().get(name)
        if handler is not None:
            return handler(event)
        if event.get("level") in ("error", "critical"):
            detail = event.get("error") or event.get("detail") or ""
            return f"! {_who(event)}{name.replace('_', ' ')}: {detail}".rstrip(": ")
        return None

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], str | None]]:
        return {
            "operator_started": lambda e: f"operator started (resync every {e.get('resync')}s)",
            "spec_loaded": _spec_loaded,
            "spec_invalid": lambda e: f"! {_who(e)}spec rejected: {e.get('error', '')}",
            "lease_acquired": lambda e: f"{_who(e)}lease acquired: this operator manages it",
            "action_done": _action_done,
            "action_failed": lambda e: (
                f"! {_who(e)}{e.get('action')} {e.get('kind')}/{e.get('resource')} failed: "
                f"{e.get('error', '')}"
            ),
            "action_held": lambda e: f"! {_who(e)}held: {e.get('detail', '')}",
            "drift": lambda e: (
                f"{_who(e)}drift: {e.get('kind')}/{e.get('resource')} {e.get('field')}"
                + (" (correcting)" if e.get("corrected") else " (not corrected: observe mode)")
            ),
            "reconcile_done": self._reconcile_done,
            "shutdown_done": lambda e: "operator stopped",
        }

    def _reconcile_done(self, event: dict[str, Any]) -> str | None:
        stack = str(event.get("stack", ""))
        plan = str(event.get("plan", ""))
        if event.get("result") != "success":
            return f"! {_who(event)}reconcile failed ({plan}); retrying with backoff"
        previous = self._last_plan.get(stack)
        self._last_plan[stack] = plan
        changed = "0 to create, 0 to update, 0 to replace, 0 to delete" not in plan
        if changed:
            return f"{_who(event)}reconciled in {event.get('elapsed')}s: {plan}"
        if previous is None or previous != plan:
            return f"{_who(event)}in sync ({plan.removeprefix('Plan: ')})"
        return None


def _who(event: dict[str, Any]) -> str:
    stack = event.get("stack")
    return f"{stack}: " if stack else ""


def _spec_loaded(event: dict[str, Any]) -> str:
    mode = str(event.get("mode", ""))
    extra = ", paused" if event.get("paused") else ""
    extra += ", teardown" if event.get("teardown") else ""
    return f"{_who(event)}spec version {event.get('version')} loaded ({mode}{extra})"


def _action_done(event: dict[str, Any]) -> str:
    action = str(event.get("action", ""))
    what = f"{event.get('kind')}/{event.get('resource')}"
    if event.get("drift_corrected"):
        return f"{_who(event)}drift corrected: {what}"
    return f"{_who(event)}{ACTION_MARKS.get(action, action)} {what} ({event.get('elapsed')}s)"


def relay(lines: Iterable[bytes], log: IO[bytes], terminal: IO[str] | None) -> None:
    """Copy every line to `log`; show the human ones on `terminal` (None: log only)."""
    progress = Progress()
    for raw in lines:
        log.write(raw)
        log.flush()
        if terminal is None:
            continue
        shown = progress.line(raw.decode("utf-8", "replace"))
        if shown:
            terminal.write(f"  {shown}\n")
            terminal.flush()
