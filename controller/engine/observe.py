"""Observe every kind, in waves so a kind can use the ids its references resolve to."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from controller.engine.graph import kind_waves
from controller.engine.kind import Kind, KindContext, Resolved
from controller.engine.resource import DesiredResource, Observed, resolve, resource_key


async def observe_all(
    kinds: Mapping[str, Kind], ctx: KindContext, desired: Sequence[DesiredResource]
) -> dict[str, Observed]:
    """All owned resources of the stack, keyed `kind/logical-id`. Read-only."""
    by_kind: dict[str, list[DesiredResource]] = {name: [] for name in kinds}
    for d in desired:
        by_kind[d.kind].append(d)
    observed: dict[str, Observed] = {}
    for wave in kind_waves(desired, kinds):
        outputs = {key: obs.outputs for key, obs in observed.items()}

        async def one(name: str, outputs: Mapping[str, Mapping[str, object]] = outputs) -> None:
            items = [
                Resolved(d.kind, d.logical_id, resolve(d.params, outputs)) for d in by_kind[name]
            ]
            found = await kinds[name].observe(ctx, items)
            for logical_id, obs in found.items():
                observed[resource_key(name, logical_id)] = obs

        await asyncio.gather(*(one(name) for name in wave))
    return observed
