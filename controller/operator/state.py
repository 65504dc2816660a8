"""What the operator knows about one stack between reconciles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.engine import Observed
from controller.spec import LoadedSpec


@dataclass
class ResourceStatus:
    kind: str
    logical_id: str
    physical_id: str
    state: str
    """in_sync | drifted | missing | pending | failed | deleting | retained."""
    drifted_fields: list[str] = field(default_factory=list)
    action: str = "noop"
    message: str = ""


@dataclass
class Condition:
    status: bool
    reason: str = ""
    message: str = ""
    since: float = 0.0


@dataclass
class StackState:
    name: str
    key: str
    loaded: LoadedSpec | None = None
    """The last valid spec: the one enforced."""
    spec_error: str = ""
    orphaned: bool = False
    phantom: bool = False
    """Only an invalid spec was ever seen at `key`: an entry of its own, never a real stack."""
    conflict: str = ""
    """Why no spec object is applied to this stack now (two keys, a held rename)."""
    conflict_reason: str = ""
    lease_held: bool = False
    lease_holder: str | None = None
    """Who holds the stack's lease as last seen (this process's identity when held)."""
    lease_problem: str = ""
    """Why the stack's lease object is not a lease ("" when it is one)."""
    observed_at: float | None = None
    """Wall time of the observation that `resources` come from."""
    observe_failed: bool = False
    """The last reconcile ended before it observed: `resources` are older than it."""
    status_etag: str = ""
    """ETag of the status object last put, to notice cheaply when it is gone."""
    status_unchanged: int = 0
    """Status writes skipped as unchanged since the object was last checked."""
    resources: list[ResourceStatus] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    last_error: str = ""
    last_reconcile: float | None = None
    last_success: float | None = None
    reconcile_id: str = ""
    reconciled_once: bool = False
    observed: dict[str, Observed] = field(default_factory=dict)
    params_seen: dict[str, str] = field(default_factory=dict)
    """Resolved desired params per resource at the last reconcile (drift vs spec change)."""
    drift: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Resource key -> drifted fields, as last observed."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Drift records (history.DriftHistory.to_json), written as driftHistory."""
    conditions: dict[str, Condition] = field(default_factory=dict)
    written: str = ""
    """Fingerprint of the last status object written to S3."""
    memory_written_at: float | None = None
    """time.monotonic() when the status object last carried the kinds' memory (None: never)."""
    last_scaling: float = 0.0

    @property
    def mode(self) -> str:
        return self.loaded.spec.spec.mode if self.loaded else "enforce"

    @property
    def paused(self) -> bool:
        return bool(self.loaded and self.loaded.spec.spec.paused)

    @property
    def writes_allowed(self) -> bool:
        return self.mode == "enforce" and not self.paused
