"""One stack, end to end: spec -> desired -> observe -> plan -> (apply)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.aws import AwsClients, classify
from controller.engine import (
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
        desired = render(loaded.spec)
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
            render(loaded.spec),
            plan_options(loaded),
            write=write,
            concurrency=self.concurrency,
            on_event=on_event,
            classify=classify,
            known=known,
        )
