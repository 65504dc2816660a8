"""What an adoption would do: resources to tag, held, left alone, and what follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.adopt.lookup import Found
from controller.engine import Plan


@dataclass
class Adoption:
    """One desired resource matched to one live, unowned resource."""

    kind: str
    logical_id: str
    found: Found
    source: str
    """How it was matched: `spec.adopt`, `name`, or a Terraform address."""
    held: str = ""
    """Non-empty: it will not be adopted, and why."""
    via: str = ""
    """Non-empty: no tag call of its own, ownership follows from another resource."""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.logical_id}"

    @property
    def tags(self) -> bool:
        return not self.held and not self.via


@dataclass
class AdoptionPlan:
    stack: str
    adoptions: list[Adoption] = field(default_factory=list)
    owned: list[str] = field(default_factory=list)
    """Desired resources the stack already owns (found by tags)."""
    creates: list[str] = field(default_factory=list)
    """Desired resources nothing matched: the next apply creates them."""
    untouched: list[str] = field(default_factory=list)
    """Live resources the spec does not describe: left alone."""
    errors: list[str] = field(default_factory=list)
    after: Plan | None = None
    """The plan once the tags are on (only the field changes that follow adoption)."""
    state_rm: list[str] = field(default_factory=list)
    """Terraform addresses to forget once adopted (`terraform state rm`)."""

    @property
    def to_tag(self) -> list[Adoption]:
        return [a for a in self.adoptions if a.tags]

    @property
    def held(self) -> list[Adoption]:
        return [a for a in self.adoptions if a.held]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "adopt": [
                {
                    "resource": a.key,
                    "physicalId": a.found.target,
                    "source": a.source,
                    "held": a.held,
                    "via": a.via,
                }
                for a in self.adoptions
            ],
            "owned": self.owned,
            "create": self.creates,
            "untouched": self.untouched,
            "errors": self.errors,
            "follows": self.follows(),
            "terraformStateRm": self.state_rm,
        }

    def follows(self) -> dict[str, dict[str, Any]]:
        """What the next apply does to each adopted resource: action and changed fields."""
        if self.after is None:
            return {}
        adopted = {a.key for a in self.adoptions if not a.held}
        return {
            a.key: {"action": a.type.value, "fields": a.delta.paths, "held": a.held}
            for a in self.after.actions
            if a.key in adopted
        }
