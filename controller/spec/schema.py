"""JSON Schema of the spec, for editors (yaml-language-server) and `stackop schema`."""

from __future__ import annotations

import json
from typing import Any

from controller.spec.model import StackSpec

SCHEMA_ID = "https://stackop.dev/schemas/stack.schema.json"


def stack_schema() -> dict[str, Any]:
    schema = StackSpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "stack-operator Stack (stackop/v1)"
    return schema


def schema_text() -> str:
    return json.dumps(stack_schema(), indent=2, sort_keys=True) + "\n"
