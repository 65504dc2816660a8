"""Observe every kind, each after the kinds it references, so it can use their ids.

A kind starts as soon as the kinds it references are observed, not when a whole wave is:
the longest reference chain of the portal is 9 kinds, and one slow kind (a read per
resource, a first call on a new client) no longer holds back every kind after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from controller.engine.graph import kind_prerequisites
from controller.engine.kind import Kind, KindContext, Resolved
from controller.engine.origin import acting_as
from controller.engine.resource import DesiredResource, Observed, resolve, resource_key

T = TypeVar("T")

_SHARED: ContextVar[dict[str, asyncio.Future[Any]] | None] = ContextVar(
    "shared_reads", default=None
)


async def shared_read(key: str, read: Callable[[], Awaitable[T]]) -> T:
    """The result of `read`, shared by every kind observing in the same `observe_all` pass.

    For an API that answers for several kinds at once (e.g. tags of many resource types
    in one call): the first caller runs `read`, later ones await the same result. Outside
    an `observe_all` pass (creates, updates, direct observe calls) it simply reads, so a
    result is never reused beyond the one observation it belongs to.
    """
    memo = _SHARED.get()
    if memo is None:
        return await read()
    if key not in memo:
        memo[key] = asyncio.ensure_future(read())
    result: T = await asyncio.shield(memo[key])
    return result


async def observe_all(
    kinds: Mapping[str, Kind], ctx: KindContext, desired: Sequence[DesiredResource]
) -> dict[str, Observed]:
    """All owned resources of the stack, keyed `kind/logical-id`. Read-only."""
    by_kind: dict[str, list[DesiredResource]] = {name: [] for name in kinds}
    for d in desired:
        by_kind[d.kind].append(d)
    observed: dict[str, Observed] = {}
    token = _SHARED.set({})
    try:
        await _observe_in_order(kinds, ctx, desired, by_kind, observed)
    finally:
        memo = _SHARED.get() or {}
        _SHARED.reset(token)
        for pending in memo.values():
            pending.cancel()
    return observed


async def _observe_in_order(
    kinds: Mapping[str, Kind],
    ctx: KindContext,
    desired: Sequence[DesiredResource],
    by_kind: Mapping[str, list[DesiredResource]],
    observed: dict[str, Observed],
) -> None:
    prerequisites = kind_prerequisites(desired, kinds)
    tasks: dict[str, asyncio.Task[None]] = {}

    async def one(name: str) -> None:
        await asyncio.gather(*(tasks[p] for p in prerequisites[name]))
        outputs = {key: obs.outputs for key, obs in observed.items()}
        items = [Resolved(d.kind, d.logical_id, resolve(d.params, outputs)) for d in by_kind[name]]
        with acting_as(name):
            found = await kinds[name].observe(ctx, items)
        for logical_id, obs in found.items():
            observed[resource_key(name, logical_id)] = obs

    try:
        for name in prerequisites:  # wave order: a task's prerequisites exist before it
            tasks[name] = asyncio.ensure_future(one(name))
        await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
        failures = [t.exception() for t in tasks.values() if t.done() and not t.cancelled()]
        first = next((error for error in failures if error is not None), None)
        if first is not None:  # the first in wave order: its dependents share it
            raise first
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
