"""Observe order (issue 12, plan wall time): each kind starts as soon as the kinds it
references are observed, with their ids; a failure stops the pass and leaves no task behind.

In-memory kinds, no cloud: these pin the engine's scheduling; `test_fresh_plan` and every
kind's tests run the same code against moto.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from controller.engine import DesiredResource, KindContext, Observed, Ref, Resolved, Terminal
from controller.engine.graph import kind_prerequisites
from controller.engine.kind import Kind
from controller.engine.observe import observe_all
from tests.test_engine import CTX, MemoryKind, Store


class TimedKind(MemoryKind):
    """Observes after `delay` seconds (or fails), logging when it started and ended and
    what its resources' references resolved to."""

    def __init__(self, name: str, store: Store, delay: float = 0.0) -> None:
        super().__init__(name, store)
        self.delay = delay
        self.events: list[tuple[str, str, float]] = []
        self.seen: list[dict[str, object]] = []

    async def observe(self, ctx: KindContext, desired: Sequence[Resolved]) -> dict[str, Observed]:
        self.events.append((self.name, "start", time.monotonic()))
        self.seen.extend(dict(d.params) for d in desired)
        try:
            await asyncio.sleep(self.delay)
            if self.name in self.store.fail:
                raise Terminal(f"{self.name} unreadable")
            return await super().observe(ctx, desired)
        finally:
            self.events.append((self.name, "end", time.monotonic()))


def portal_like() -> list[DesiredResource]:
    return [
        DesiredResource("net", "main", {"cidr": "10.0.0.0/16"}),
        DesiredResource("sub", "a", {"net": Ref("net", "main")}),
        DesiredResource("db", "main", {"subnets": [Ref("sub", "a")]}),
        DesiredResource("app", "web", {"db": Ref("db", "main"), "net": Ref("net", "main")}),
        DesiredResource("slow", "x", {}),
    ]


def store_with_everything() -> Store:
    store = Store()
    for d in portal_like():
        store.items[d.key] = {}
    return store


def timed(store: Store, delays: dict[str, float]) -> dict[str, TimedKind]:
    return {n: TimedKind(n, store, delays.get(n, 0.0)) for n in ("net", "sub", "db", "app", "slow")}


def when(kinds: dict[str, TimedKind], name: str, event: str) -> float:
    (stamp,) = [t for n, e, t in kinds[name].events if e == event]
    return stamp


def test_prerequisites_are_the_referenced_kinds_and_a_kind_cycle_goes_together() -> None:
    prerequisites = kind_prerequisites(portal_like(), ["net", "sub", "db", "app", "slow"])
    assert prerequisites == {
        "net": frozenset(),
        "slow": frozenset(),
        "sub": frozenset({"net"}),
        "db": frozenset({"sub"}),
        "app": frozenset({"db", "net"}),
    }
    assert list(prerequisites).index("net") < list(prerequisites).index("sub")

    cyclic = [
        DesiredResource("a", "1", {"b": Ref("b", "1")}),
        DesiredResource("b", "1", {"a": Ref("a", "2")}),
        DesiredResource("a", "2", {}),
        DesiredResource("c", "1", {"a": Ref("a", "1")}),
    ]
    # a and b reference each other (a/1 -> b/1 -> a/2: no resource cycle, a kind cycle):
    # neither waits for the other; c, which references a, waits for both.
    assert kind_prerequisites(cyclic, ["a", "b", "c"]) == {
        "a": frozenset(),
        "b": frozenset(),
        "c": frozenset({"a"}),
    }


def test_a_kind_starts_when_its_references_are_observed_not_when_a_slow_kind_is() -> None:
    store = store_with_everything()
    kinds = timed(store, {"slow": 0.3, "net": 0.02, "sub": 0.02})
    as_kinds: dict[str, Kind] = dict(kinds)
    observed = asyncio.run(observe_all(as_kinds, CTX, portal_like()))

    assert set(observed) == {d.key for d in portal_like()}
    assert when(kinds, "sub", "start") >= when(kinds, "net", "end")
    assert when(kinds, "db", "start") >= when(kinds, "sub", "end")
    assert when(kinds, "app", "start") >= max(when(kinds, "db", "end"), when(kinds, "net", "end"))
    # In waves, db (third wave) waited for slow (first wave): now the chain runs beside it.
    assert when(kinds, "app", "end") < when(kinds, "slow", "end")
    # References resolve to the ids their kinds observed.
    assert kinds["sub"].seen == [{"net": "id-net/main"}]
    assert kinds["app"].seen == [{"db": "id-db/main", "net": "id-net/main"}]


def test_a_failing_kind_stops_the_pass_its_dependants_never_run_and_no_task_is_left() -> None:
    store = store_with_everything()
    store.fail.add("sub")
    kinds = timed(store, {"slow": 5.0})
    as_kinds: dict[str, Kind] = dict(kinds)

    async def run() -> set[asyncio.Task[object]]:
        with pytest.raises(Terminal, match="sub unreadable"):
            await observe_all(as_kinds, CTX, portal_like())
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    started = time.monotonic()
    left = asyncio.run(run())
    assert left == set()
    assert time.monotonic() - started < 2.0  # slow (5 s) was cancelled, not awaited
    assert kinds["db"].events == [] and kinds["app"].events == []  # never started
    assert [e for _, e, _ in kinds["slow"].events] == ["start", "end"]  # cancelled


def test_a_kind_needing_a_kind_nobody_observes_is_still_observed() -> None:
    desired = [
        DesiredResource("a", "1", {"x": Ref("gone", "1")}),
        DesiredResource("b", "1", {"a": Ref("a", "1")}),
    ]
    assert kind_prerequisites(desired, ["a", "b"]) == {"a": frozenset(), "b": frozenset({"a"})}
