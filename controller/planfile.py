"""Saved plans: `stackop plan SPEC -out FILE`, then `stackop apply FILE`.

A plan file is JSON (format `stackop-plan/v1`) holding the spec text it was made from,
so it is self-contained, and two fingerprints: of the live state the plan observed and
of the actions it planned. Applying it re-plans from the saved spec and applies only if
both fingerprints are still the same: exactly the plan that was reviewed, or nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from controller.engine import UNKNOWN, ActionType, Plan, Ref
from controller.spec import LoadedSpec, load_spec
from controller.spec.loader import content_version

FORMAT = "stackop-plan/v1"


class PlanFileError(Exception):
    """A plan file that cannot be used, or no longer matches: one line, nothing written."""


def _canonical(value: Any) -> Any:
    """A JSON value with one spelling per meaning (sorted keys and sets, no reprs of ids)."""
    if value is UNKNOWN:
        return "(known after apply)"
    if isinstance(value, Ref):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _digest(value: Any) -> str:
    text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def observed_fingerprint(plan: Plan) -> str:
    """The live state as the plan saw it: every observed resource's id and fields."""
    return _digest(
        {key: {"id": obs.physical_id, "fields": obs.fields} for key, obs in plan.observed.items()}
    )


def actions_fingerprint(plan: Plan) -> str:
    """What the plan would do: every action but no-ops, with its changes and params."""
    return _digest(
        [
            {
                "key": a.key,
                "type": a.type.value,
                "held": a.held,
                "note": a.note,
                "replace": list(a.replace_paths),
                "changes": [[c.path, c.old, c.new] for c in a.delta.changes],
                "params": a.resolved.params if a.resolved is not None else None,
            }
            for a in plan.actions
            if a.type is not ActionType.NOOP
        ]
    )


@dataclass(frozen=True)
class SavedPlan:
    stack: str
    spec_path: str
    spec_text: str
    observed: str
    actions: str
    destructive: tuple[str, ...]
    """Keys of the deletions and replacements the plan carries out (approved by saving)."""
    created_at: float

    def loaded(self) -> LoadedSpec:
        return load_spec(self.spec_path, self.spec_text.encode())

    def check_spec_unchanged(self) -> None:
        """Refuse when the spec file the plan was made from now says something else."""
        path = Path(self.spec_path)
        try:
            current = path.read_bytes()
        except OSError:
            return  # moved or on another machine: the saved text is the spec
        if content_version(current) != content_version(self.spec_text.encode()):
            raise PlanFileError(
                f"{self.spec_path} changed since the plan was made; run stackop plan again"
            )

    def age(self) -> str:
        return f"made {max(0.0, time.time() - self.created_at):.0f}s ago"

    def check_matches(self, plan: Plan) -> None:
        """Refuse unless `plan` (made now from the saved spec) is the saved plan."""
        if observed_fingerprint(plan) != self.observed:
            raise PlanFileError(
                f"the live state of stack {self.stack} changed since the plan was made "
                f"({self.age()}); run stackop plan again"
            )
        if actions_fingerprint(plan) != self.actions:
            raise PlanFileError(
                f"stack {self.stack} would now get other actions than the saved plan "
                "(the spec's rendering changed); run stackop plan again"
            )


def destructive_keys(plan: Plan) -> tuple[str, ...]:
    kinds = (ActionType.DELETE, ActionType.REPLACE)
    return tuple(a.key for a in plan.actions if a.type in kinds and not a.held)


def save(path: str, plan: Plan, loaded: LoadedSpec, raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{loaded.source} is not UTF-8 text ({exc})") from None
    if content_version(raw) != loaded.version:
        raise PlanFileError(f"{loaded.source} changed while it was being planned")
    doc = {
        "format": FORMAT,
        "stack": loaded.name,
        "createdAt": time.time(),
        "spec": {"path": str(Path(loaded.source).resolve()), "text": text},
        "fingerprints": {
            "observed": observed_fingerprint(plan),
            "actions": actions_fingerprint(plan),
        },
        "destructive": list(destructive_keys(plan)),
        "plan": plan.to_json(),
    }
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def parse(raw: bytes) -> dict[str, Any] | None:
    """The plan file's document, or None when `raw` is not a plan file (e.g. a spec)."""
    if not raw.lstrip().startswith(b"{"):
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return doc
    return None


def load(source: str, doc: Mapping[str, Any]) -> SavedPlan:
    try:
        spec = doc["spec"]
        prints = doc["fingerprints"]
        saved = SavedPlan(
            stack=str(doc["stack"]),
            spec_path=str(spec["path"]),
            spec_text=str(spec["text"]),
            observed=str(prints["observed"]),
            actions=str(prints["actions"]),
            destructive=tuple(str(k) for k in doc.get("destructive", [])),
            created_at=float(doc["createdAt"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{source}: not a complete {FORMAT} plan file ({exc!r})") from None
    return saved
