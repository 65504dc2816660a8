"""Dependency ordering: which resources must exist before which."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from controller.engine.errors import Terminal
from controller.engine.resource import DesiredResource, Observed


def check_acyclic(desired: Iterable[DesiredResource]) -> None:
    """Raise Terminal naming a cycle if the desired graph has one."""
    graph = {d.key: d.dependencies() for d in desired}
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> None:
        state[key] = 1
        for dep in sorted(graph.get(key, ())):
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep] if dep in trail else [key, dep]
                raise Terminal("dependency cycle: " + " -> ".join(cycle))
            if dep in graph and state.get(dep) is None:
                visit(dep, [*trail, dep])
        state[key] = 2

    for key in sorted(graph):
        if state.get(key) is None:
            visit(key, [key])


def topological(desired: Iterable[DesiredResource]) -> list[DesiredResource]:
    """Desired resources, each after the ones it depends on (ties by key)."""
    by_key = {d.key: d for d in desired}
    placed: dict[str, DesiredResource] = {}

    def visit(key: str, trail: frozenset[str]) -> None:
        if key in placed or key in trail or key not in by_key:
            return
        for dep in sorted(by_key[key].dependencies()):
            visit(dep, trail | {key})
        placed[key] = by_key[key]

    for key in sorted(by_key):
        visit(key, frozenset())
    return list(placed.values())


def _kind_needs(desired: Iterable[DesiredResource], kinds: Iterable[str]) -> dict[str, set[str]]:
    """For each kind, the other kinds its desired resources reference."""
    needs: dict[str, set[str]] = {k: set() for k in kinds}
    for d in desired:
        needs.setdefault(d.kind, set())
        for dep in d.dependencies():
            dep_kind = dep.split("/", 1)[0]
            if dep_kind != d.kind:
                needs[d.kind].add(dep_kind)
    return needs


def kind_prerequisites(
    desired: Iterable[DesiredResource], kinds: Iterable[str]
) -> dict[str, frozenset[str]]:
    """For each kind (in wave order), the kinds that must be observed before it: those its
    resources reference, except kinds of a reference cycle, which go together."""
    needs = _kind_needs(desired, kinds)
    earlier: set[str] = set()
    prerequisites: dict[str, frozenset[str]] = {}
    for wave in _waves(needs):
        for kind in wave:
            prerequisites[kind] = frozenset(needs[kind] & earlier)
        earlier.update(wave)
    return prerequisites


def _waves(needs: Mapping[str, set[str]]) -> list[list[str]]:
    """Kinds grouped so each group only needs kinds of earlier groups (a cycle's together)."""
    waves: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(needs):
        wave = sorted(k for k, deps in needs.items() if k not in placed and deps <= placed)
        if not wave:  # kind-level cycle: its kinds go together, what needs them after
            wave = _closed_cycles({k: needs[k] - placed for k in needs if k not in placed})
        waves.append(wave)
        placed.update(wave)
    return waves


def _closed_cycles(needs: Mapping[str, set[str]]) -> list[str]:
    """The kinds of the cycles that need nothing outside themselves (there is one, when
    every kind needs another): each such kind reaches only kinds that reach it back."""
    reach: dict[str, set[str]] = {}
    for kind in needs:
        seen: set[str] = set()
        todo = list(needs[kind])
        while todo:
            k = todo.pop()
            if k not in seen and k in needs:  # a kind nobody observes holds nothing back
                seen.add(k)
                todo.extend(needs[k])
        reach[kind] = seen
    return sorted(k for k in needs if all(k in reach[j] for j in reach[k]))


def strings_in(value: Any) -> Iterable[str]:
    """Every string anywhere inside `value` (mappings, lists and tuples walked)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


def observed_referrers(observed: Mapping[str, Observed]) -> dict[str, set[str]]:
    """For each observed key, the keys of observed resources whose fields name its outputs.

    Resources being deleted have no desired refs left; their live fields (a subnet's
    vpc id, a route's NAT id) tell the order instead.
    """
    owner_of: dict[str, str] = {}
    for key, obs in observed.items():
        for value in strings_in(obs.outputs):
            if len(value) >= 8:
                owner_of.setdefault(value, key)
    referrers: dict[str, set[str]] = {key: set() for key in observed}
    for key, obs in observed.items():
        for value in strings_in(obs.fields):
            target = owner_of.get(value)
            if target is not None and target != key:
                referrers[target].add(key)
    return referrers
