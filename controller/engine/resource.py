"""Desired and observed resources, and references between them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

OWNER_TAG = "stackop:managed-by"
OWNER_VALUE = "stack-operator"
STACK_TAG = "stackop:stack"
LOGICAL_ID_TAG = "stackop:logical-id"


def resource_key(kind: str, logical_id: str) -> str:
    return f"{kind}/{logical_id}"


@dataclass(frozen=True)
class Ref:
    """A value that is another resource's output, resolved at apply time."""

    kind: str
    logical_id: str
    output: str = "id"
    wait_ready: bool = True
    """False: only the output is needed, not a ready resource (e.g. an ARN in a policy)."""

    @property
    def key(self) -> str:
        return resource_key(self.kind, self.logical_id)

    def __repr__(self) -> str:
        return f"${{{self.key}.{self.output}}}"


class _Unknown:
    """A value that is only known once a referenced resource exists."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class DesiredResource:
    """One resource the spec asks for. `params` may hold `Ref`s at any depth."""

    kind: str
    logical_id: str
    params: Mapping[str, Any]
    depends_on: tuple[str, ...] = ()
    """Keys of resources that must exist first, beyond those named by a Ref."""

    @property
    def key(self) -> str:
        return resource_key(self.kind, self.logical_id)

    def refs(self) -> Iterator[Ref]:
        yield from _walk_refs(self.params)

    def dependencies(self) -> set[str]:
        return {ref.key for ref in self.refs()} | set(self.depends_on)

    def ready_dependencies(self) -> set[str]:
        """Dependencies that must be ready (not merely exist) before this one is written."""
        return {ref.key for ref in self.refs() if ref.wait_ready} | set(self.depends_on)


@dataclass
class Observed:
    """A live resource as one kind sees it.

    `fields` are comparable with the desired params (same names, normalised values);
    `outputs` are what references may use (id, arn, name ...); `private` is the
    kind's own bookkeeping (etags, revision numbers) that the engine never reads.
    """

    logical_id: str
    physical_id: str
    fields: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    ready: bool = True
    status: str = ""
    private: dict[str, Any] = field(default_factory=dict)


def _walk_refs(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk_refs(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_refs(item)


def resolve(value: Any, outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace every Ref in `value` by the referenced output, or UNKNOWN if not there yet."""
    if isinstance(value, Ref):
        return outputs.get(value.key, {}).get(value.output, UNKNOWN)
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, outputs) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False
