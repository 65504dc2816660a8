"""A plan: what one reconcile would do, resource by resource."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.engine.kind import Delta, Resolved
from controller.engine.resource import DesiredResource, Observed, resource_key


class ActionType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    RETAIN = "retain"
    NOOP = "noop"


WRITES = (ActionType.CREATE, ActionType.UPDATE, ActionType.REPLACE, ActionType.DELETE)


@dataclass
class Action:
    kind: str
    logical_id: str
    type: ActionType
    desired: DesiredResource | None = None
    resolved: Resolved | None = None
    observed: Observed | None = None
    delta: Delta = field(default_factory=Delta)
    note: str = ""
    held: str = ""
    """Non-empty: the reason this action will not be carried out."""
    replace_paths: tuple[str, ...] = ()
    create_with: Mapping[str, Any] = field(default_factory=dict)
    """For a create or replacement: the kind's `prepare_create` choice (see CreatePlan)."""

    @property
    def key(self) -> str:
        return resource_key(self.kind, self.logical_id)

    @property
    def is_write(self) -> bool:
        return self.type in WRITES


@dataclass
class Plan:
    stack: str
    spec_version: str
    actions: list[Action]
    observed: dict[str, Observed] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def by_key(self) -> dict[str, Action]:
        return {a.key: a for a in self.actions}

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.is_write]

    @property
    def in_sync(self) -> bool:
        return not self.changes

    def counts(self) -> Counter[str]:
        return Counter(a.type.value for a in self.actions)

    def summary(self) -> str:
        c = self.counts()
        held = sum(1 for a in self.actions if a.held)
        parts = [
            f"{c['create']} to create",
            f"{c['update']} to update",
            f"{c['replace']} to replace",
            f"{c['delete']} to delete",
        ]
        if c["retain"]:
            parts.append(f"{c['retain']} to retain")
        text = "Plan: " + ", ".join(parts) + f"; {c['noop']} unchanged."
        if held:
            text += f" {held} held."
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "specVersion": self.spec_version,
            "inSync": self.in_sync,
            "summary": dict(self.counts()),
            "notes": list(self.notes),
            "actions": [
                {
                    "kind": a.kind,
                    "logicalId": a.logical_id,
                    "action": a.type.value,
                    "physicalId": a.observed.physical_id if a.observed else None,
                    "changes": [
                        {"field": c.path, "old": _jsonable(c.old), "new": _jsonable(c.new)}
                        for c in a.delta.changes
                    ],
                    "note": a.note,
                    "held": a.held,
                }
                for a in self.actions
            ],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
