"""The stack spec: model, hardened loading, validation and JSON Schema."""

from controller.spec.errors import SpecError, SpecIssue
from controller.spec.loader import LoadedSpec, load_spec, load_spec_file
from controller.spec.model import StackSpec

__all__ = ["LoadedSpec", "SpecError", "SpecIssue", "StackSpec", "load_spec", "load_spec_file"]
