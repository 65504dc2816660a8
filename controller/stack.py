"""One stack, end to end: spec -> desired -> observe -> plan -> (apply)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.adopt.names import NamesError, apply_names, apply_overrides
from controller.aws import AwsClients, classify
from controller.engine import (
    DesiredResource,
    EventHook,
    Kind,
    KindContext,
    Plan,
    PlanOptions,
    ReconcileResult,
    plan_stack,
    reconcile_stack,
)
from controller.kinds import all_kinds
from controller.render import render
from controller.spec import LoadedSpec


def desired_resources(loaded: LoadedSpec) -> list[DesiredResource]:
    """The rendered resources, with the names and settings the spec overrides."""
    body = loaded.spec.spec
    try:
        return apply_overrides(apply_names(render(loaded.spec), body.names), body.overrides)
    except NamesError as exc:
        raise NamesError(f"{loaded.source}: {exc}") from None


def plan_options(loaded: LoadedSpec) -> PlanOptions:
    body = loaded.spec.spec
    return PlanOptions(
        guard_deletions=not body.teardown,
        max_deletions=body.safety.max_deletions,
        allow_replace=frozenset(body.safety.allow_replace),
    )


@dataclass
class StackRunner:
    """Plans and applies stacks with one set of AWS clients and kinds."""

    clients: AwsClients
    kinds: Mapping[str, Kind] = field(default_factory=all_kinds)
    concurrency: int = 8

    def context(self, loaded: LoadedSpec) -> KindContext:
        return KindContext(
            stack=loaded.name,
            spec_version=loaded.version,
            clients=self.clients,
            user_tags=dict(loaded.spec.spec.tags),
        )

    async def plan(self, loaded: LoadedSpec) -> Plan:
        desired = desired_resources(loaded)
        return await plan_stack(self.kinds, self.context(loaded), desired, plan_options(loaded))

    async def reconcile(
        self,
        loaded: LoadedSpec,
        *,
        write: bool = True,
        on_event: EventHook | None = None,
        known: Iterable[str] = (),
    ) -> ReconcileResult:
        """`known`: keys seen observed before (evidence that an absent resource vanished)."""
        return await reconcile_stack(
            self.kinds,
            self.context(loaded),
            desired_resources(loaded),
            plan_options(loaded),
            write=write,
            concurrency=self.concurrency,
            on_event=on_event,
            classify=classify,
            known=known,
        )

    def remember(self, stack: str) -> dict[str, Any]:
        """{kind: memory} of what this process read for `stack` (see Kind.remember)."""
        found = {name: kind.remember(stack) for name, kind in self.kinds.items()}
        return {name: memory for name, memory in sorted(found.items()) if memory is not None}

    def recall(self, stack: str, memory: Any, age_offset: float) -> int:
        """Start from another process's `remember` output; returns the entries taken."""
        if not isinstance(memory, Mapping):
            return 0
        return sum(
            kind.recall(stack, memory[name], age_offset)
            for name, kind in self.kinds.items()
            if name in memory
        )

    def forget(self, stack: str, names: Iterable[str]) -> None:
        """A change event named these: every kind reads them afresh."""
        named = frozenset(names)
        for kind in self.kinds.values():
            kind.forget(stack, named)
