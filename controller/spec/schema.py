"""JSON Schema of the spec, for editors (yaml-language-server) and `stackop schema`."""

from __future__ import annotations

import ast
import functools
import inspect
import json
from typing import Any

from controller.spec import model
from controller.spec.model import Model, StackSpec

SCHEMA_ID = "https://stackop.dev/schemas/stack.schema.json"


def attribute_docstrings(source: str) -> dict[str, dict[str, str]]:
    """For each top-level class of `source`, its fields' docstrings: the string right after
    an annotated assignment (the rule of pydantic's `use_attribute_docstrings`)."""
    found: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            docs = found.setdefault(node.name, {})
            for stmt, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return found


@functools.cache
def _describe_fields() -> None:
    """Each field without a description gets its docstring, for the schema only. pydantic's
    `use_attribute_docstrings` would find them at each model's creation, walking frames
    and reading the source: ~15 ms of every command, for a schema only `stackop schema`
    and editors use. Models are rebuilt in file order, so each embeds described fields."""
    docs = attribute_docstrings(inspect.getsource(model))
    for name, cls in vars(model).items():
        if isinstance(cls, type) and issubclass(cls, Model) and name in docs:
            for field_name, field in cls.model_fields.items():
                if field.description is None and field_name in docs[name]:
                    field.description = docs[name][field_name]
            cls.model_rebuild(force=True)


def stack_schema() -> dict[str, Any]:
    _describe_fields()
    schema = StackSpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "stack-operator Stack (stackop/v1)"
    return schema


def schema_text() -> str:
    return json.dumps(stack_schema(), indent=2, sort_keys=True) + "\n"
