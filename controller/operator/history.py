"""Drift history per stack: every drifted field found, when it was corrected, and who
changed it when a CloudTrail change event named the resource.

Kept in memory (the last 100 records per stack), written in status/<stack>.json as
`driftHistory` and read back from it at start-up; `stackop history STACK` prints it.
The latest correction per field is also a gauge for the dashboard's table panel.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.operator.metrics import DRIFT_CORRECTED_AT

KEEP = 100
VALUE_CHARS = 1000
"""Values are clipped to this many characters (a status object stays small)."""


Who = Callable[[str, str], tuple[str, str] | None]
"""(stack, physical id) -> (principal, event name) of the change event that named it."""


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


@dataclass
class DriftRecord:
    resource: str
    """kind/logical-id"""
    field: str
    old: str
    """The spec's value."""
    new: str
    """The value found live."""
    detected_at: float
    corrected_at: float | None = None
    principal: str = ""
    event: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "detectedAt": self.detected_at,
            "correctedAt": self.corrected_at,
            "principal": self.principal,
            "event": self.event,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DriftRecord:
        corrected = doc.get("correctedAt")
        return cls(
            resource=str(doc["resource"]),
            field=str(doc["field"]),
            old=str(doc.get("old", "")),
            new=str(doc.get("new", "")),
            detected_at=float(doc["detectedAt"]),
            corrected_at=float(corrected) if corrected is not None else None,
            principal=str(doc.get("principal", "")),
            event=str(doc.get("event", "")),
        )


class DriftHistory:
    """The last KEEP drift records of one stack, oldest first."""

    def __init__(self, stack: str, records: Iterable[DriftRecord] = ()) -> None:
        self.stack = stack
        self.records: deque[DriftRecord] = deque(records, maxlen=KEEP)

    def detected(
        self,
        resource: str,
        changes: Iterable[tuple[str, Any, Any]],
        who: tuple[str, str] | None = None,
        at: float | None = None,
    ) -> list[DriftRecord]:
        """Record (field, spec value, live value) drift; a field still open with the same
        live value is the same drift, not a new one."""
        now = time.time() if at is None else at
        added = []
        for path, spec_value, live_value in changes:
            old, new = _shown(spec_value), _shown(live_value)
            if any(
                r.resource == resource and r.field == path and r.new == new
                for r in self._open(resource)
            ):
                continue
            principal, event = who or ("", "")
            record = DriftRecord(resource, path, old, new, now, None, principal, event)
            self.records.append(record)
            added.append(record)
        return added

    def corrected(self, resource: str, at: float | None = None) -> list[DriftRecord]:
        now = time.time() if at is None else at
        done = self._open(resource)
        for record in done:
            record.corrected_at = now
            kind, _, logical_id = resource.partition("/")
            DRIFT_CORRECTED_AT.labels(
                self.stack, kind, logical_id, record.field, record.principal, record.event
            ).set(now)
        return done

    def _open(self, resource: str) -> list[DriftRecord]:
        return [r for r in self.records if r.resource == resource and r.corrected_at is None]

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.records]

    @classmethod
    def from_json(cls, stack: str, docs: Any) -> DriftHistory:
        records = []
        for doc in docs if isinstance(docs, list) else []:
            try:
                records.append(DriftRecord.from_json(doc))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # a hand-edited status object: skip what cannot be read
        return cls(stack, records)


# ---------------------------------------------------------------- `stackop history STACK`


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def render(stack: str, records: list[DriftRecord]) -> str:
    if not records:
        return f"No drift recorded for stack {stack}."
    lines = [f"Drift history of stack {stack} (UTC, newest last):"]
    for r in records:
        who = f" by {r.principal} ({r.event})" if r.principal else ""
        took = f" after {r.corrected_at - r.detected_at:.1f}s" if r.corrected_at else ""
        lines.append(
            f"  {_when(r.detected_at)}  {r.resource}  {r.field}: {r.old} -> {r.new}{who}; "
            f"corrected {_when(r.corrected_at)}{took}"
        )
    return "\n".join(lines)
