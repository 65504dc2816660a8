"""Shared pieces of rendering: tags every resource carries."""

from __future__ import annotations

from controller.spec.model import StackSpec


def resource_tags(spec: StackSpec, logical_id: str) -> dict[str, str]:
    """The user-visible tags of a resource (ownership tags are added by the kind)."""
    return {**spec.spec.tags, "Name": f"{spec.metadata.name}-{logical_id}"}
