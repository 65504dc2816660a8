"""The contract every resource kind implements (cf. Crossplane's ExternalClient).

A kind is the only code that knows its cloud API. Its facts (service, IAM actions,
fields to ignore or that force replacement) are class data; its four verbs are async.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from controller.engine.resource import (
    LOGICAL_ID_TAG,
    OWNER_TAG,
    OWNER_VALUE,
    STACK_TAG,
    Observed,
    resource_key,
)


class ClientSource(Protocol):
    async def client(self, service: str) -> Any: ...


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Delta:
    changes: tuple[FieldChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    def changed(self, path: str) -> bool:
        """True if `path` or anything below it differs."""
        return any(c.path == path or c.path.startswith(path + ".") for c in self.changes)

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.changes]


@dataclass(frozen=True)
class Resolved:
    """A desired resource with every reference replaced by its value."""

    kind: str
    logical_id: str
    params: Mapping[str, Any]
    create_with: Mapping[str, Any] = field(default_factory=dict)
    """What the kind's `prepare_create` chose for a create (e.g. a snapshot to restore)."""

    @property
    def key(self) -> str:
        return resource_key(self.kind, self.logical_id)


@dataclass(frozen=True)
class CreatePlan:
    """How a kind would create an absent resource, decided before planning."""

    note: str = ""
    held: str = ""
    """Non-empty: creating it now would do harm (e.g. an empty database where one was)."""
    create_with: Mapping[str, Any] = field(default_factory=dict)
    """Handed to `create` as `Resolved.create_with`."""


@dataclass
class KindContext:
    """What a kind may use: the stack it works for, AWS clients, tags and tokens."""

    stack: str
    spec_version: str
    clients: ClientSource
    user_tags: Mapping[str, str] = field(default_factory=dict)

    async def client(self, service: str) -> Any:
        return await self.clients.client(service)

    def tags(self, kind: str, logical_id: str) -> dict[str, str]:
        """User tags plus ownership tags; ownership wins."""
        return {
            **self.user_tags,
            "Name": f"{self.stack}-{logical_id}",
            OWNER_TAG: OWNER_VALUE,
            STACK_TAG: self.stack,
            LOGICAL_ID_TAG: resource_key(kind, logical_id),
        }

    def token(self, kind: str, logical_id: str, limit: int = 64) -> str:
        """Idempotency token from stack + logical id + spec version."""
        raw = f"{self.stack}|{resource_key(kind, logical_id)}|{self.spec_version}"
        return hashlib.sha256(raw.encode()).hexdigest()[:limit]

    def owns(self, tags: Mapping[str, str]) -> str | None:
        """The logical id if `tags` mark a resource of this stack, else None."""
        if tags.get(OWNER_TAG) != OWNER_VALUE or tags.get(STACK_TAG) != self.stack:
            return None
        key = tags.get(LOGICAL_ID_TAG, "")
        _, _, logical_id = key.partition("/")
        return logical_id or None


DeletionMode = Literal["delete", "retain"]


class Kind(ABC):
    """One AWS resource kind. Every verb must be idempotent.

    - `observe` is read-only and batched: one list/describe call per page for all
      of the stack's resources of this kind, found by the ownership tags. It returns
      every owned resource, desired or not (so removed ones can be pruned).
    - `create` tags the resource in the create call itself and returns it observed.
      If a resource with this logical id already exists it must return that one.
    - `update` changes only what `delta` names and returns the result observed.
    - `delete` of a resource that is already gone succeeds.
    """

    name: ClassVar[str]
    service: ClassVar[str]
    iam_actions: ClassVar[tuple[str, ...]]
    """IAM actions of the calls this kind makes."""
    iam_implied: ClassVar[tuple[str, ...]] = ()
    """Permissions the cloud checks on our behalf during those calls (e.g. passing a role
    named in a request); granted in the policy, but never a call of ours to record."""
    ignore_fields: ClassVar[frozenset[str]] = frozenset()
    replace_fields: ClassVar[frozenset[str]] = frozenset()
    unordered_fields: ClassVar[frozenset[str]] = frozenset()
    protects_data: ClassVar[bool] = False
    """Replacement or deletion loses data: never silent, needs explicit allowance."""
    binds_referrers: ClassVar[bool] = True
    """What references it is attached to it (it cannot go while they use it), so replacing
    it replaces them too. False for kinds others only name (an ARN, an endpoint): those
    referrers are updated in place once the replacement exists."""

    @abstractmethod
    async def observe(
        self, ctx: KindContext, desired: Sequence[Resolved]
    ) -> dict[str, Observed]: ...

    @abstractmethod
    async def create(self, ctx: KindContext, desired: Resolved) -> Observed: ...

    @abstractmethod
    async def update(
        self, ctx: KindContext, desired: Resolved, observed: Observed, delta: Delta
    ) -> Observed: ...

    @abstractmethod
    async def delete(self, ctx: KindContext, observed: Observed) -> None: ...

    async def prepare_create(
        self, ctx: KindContext, desired: Resolved, existed: bool
    ) -> CreatePlan:
        """Called only for a desired resource that is absent, before the plan is made: it
        may read the cloud (a resource that exists never pays for it). `existed` is True
        when the stack has evidence the resource existed before (it vanished)."""
        return CreatePlan()

    def is_ready(self, observed: Observed) -> bool:
        return observed.ready

    def normalise(self, path: str, value: Any) -> Any:
        """Hook to fold AWS defaults and spellings before comparing; identity by default."""
        return value

    def deletion(self, observed: Observed) -> tuple[DeletionMode, str]:
        """How removal of `observed` is carried out, and a note for the plan."""
        return "delete", ""

    def check_deletable(self, observed: Observed) -> str | None:
        """A reason deletion must be refused, or None."""
        return None

    def check_update(self, desired: Resolved, observed: Observed, delta: Delta) -> str | None:
        """A reason this in-place update must be held (the cloud would refuse it), or None."""
        return None

    def remember(self, stack: str) -> Any:
        """What this process read for `stack` that a later process may start from
        (JSON-able; None: nothing). The operator keeps it in the stack's status object."""
        return None

    def recall(self, stack: str, memory: Any, age_offset: float) -> int:
        """Start from `remember`'s output of another process, exported `age_offset`
        seconds ago. The kind checks every entry (the object may be anything) and reads
        afresh whatever it cannot trust. Returns how many entries it took."""
        return 0

    def forget(self, stack: str, names: frozenset[str]) -> None:
        """A change event named these ids, names or ARNs: read them afresh next time."""
        return None
