"""Carry out a plan: every action starts as soon as what it depends on is done.

Creates and updates wait for the resources they reference (and for those to be
ready); deletes wait for the resources that still reference them. A failure skips
only the actions that depend on it; a slow resource holds back only its dependants.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from controller.engine.diff import diff
from controller.engine.errors import EngineError, NotFound, Retryable
from controller.engine.graph import observed_referrers
from controller.engine.kind import Kind, KindContext, Resolved
from controller.engine.origin import acting_as
from controller.engine.plan import Action, ActionType, Plan
from controller.engine.resource import Observed, contains_unknown, resolve


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"
    HELD = "held"
    UNCHANGED = "unchanged"


@dataclass
class ActionReport:
    action: Action
    outcome: Outcome
    message: str = ""
    elapsed: float = 0.0
    retry_after: float | None = None


@dataclass
class ExecutionReport:
    reports: dict[str, ActionReport] = field(default_factory=dict)
    completion_order: list[str] = field(default_factory=list)

    def of(self, outcome: Outcome) -> list[ActionReport]:
        return [r for r in self.reports.values() if r.outcome is outcome]

    @property
    def ok(self) -> bool:
        return not self.of(Outcome.FAILED)

    @property
    def converged(self) -> bool:
        bad = (Outcome.FAILED, Outcome.SKIPPED, Outcome.WAITING)
        return all(r.outcome not in bad for r in self.reports.values())

    @property
    def terminal_failures(self) -> list[ActionReport]:
        """Failures that retrying will not fix (a Terminal error)."""
        return [r for r in self.of(Outcome.FAILED) if r.retry_after is None]

    def requeue_after(self, waiting_interval: float) -> float | None:
        delays = [r.retry_after for r in self.reports.values() if r.retry_after is not None]
        if self.of(Outcome.WAITING):
            delays.append(waiting_interval)
        return min(delays) if delays else None


EventHook = Callable[[str, ActionReport], None]
"""Called with ("start" | "end", report) around every write."""


class Executor:
    def __init__(
        self,
        kinds: Mapping[str, Kind],
        ctx: KindContext,
        *,
        concurrency: int = 8,
        on_event: EventHook | None = None,
        classify: Callable[[Exception], EngineError] | None = None,
    ) -> None:
        self.kinds = kinds
        self.ctx = ctx
        self.semaphore = asyncio.Semaphore(concurrency)
        self.on_event = on_event or (lambda _phase, _report: None)
        self.classify = classify

    async def run(self, plan: Plan) -> ExecutionReport:
        report = ExecutionReport()
        observed: dict[str, Observed] = dict(plan.observed)
        actions = plan.by_key()
        deps = self._dependencies(plan, actions)
        finished: dict[str, asyncio.Event] = {node: asyncio.Event() for node in deps}
        phases: dict[str, ActionReport] = {}

        async def run_one(node: str) -> None:
            try:
                await asyncio.gather(*(finished[d].wait() for d in deps[node]))
                key = node.removesuffix(OLD)
                result = await self._after_dependencies(
                    actions[key], node != key, deps[node], phases, observed
                )
                phases[node] = result
                old = phases.get(key + OLD)
                deleted = old is not None and old.outcome is Outcome.DONE
                if node == key and deleted and result.outcome in (Outcome.SKIPPED, Outcome.WAITING):
                    self.on_event("end", result)  # the old one is gone, the new one not yet
                if node == key:
                    report.reports[key] = result
                    report.completion_order.append(key)
            finally:
                finished[node].set()

        await asyncio.gather(*(run_one(node) for node in deps))
        return report

    def _dependencies(self, plan: Plan, actions: Mapping[str, Action]) -> dict[str, set[str]]:
        """Nodes to wait for, per node. A replacement is two nodes: `key#old` deletes the
        live resource (after what uses it is gone), `key` creates the new one.

        Edges from desired references are certain; edges found in live fields (a value
        equal to another resource's output) are a guess, and only those are dropped to
        break a wait cycle."""
        observed_users = observed_referrers(plan.observed)
        desired_users: dict[str, set[str]] = {}
        for key, action in actions.items():  # a replaced dependant uses it, live or not
            if action.desired is not None and action.type is ActionType.REPLACE:
                for dep in action.desired.dependencies():
                    desired_users.setdefault(dep, set()).add(key)
        deps: dict[str, set[str]] = {key: set() for key in actions}
        certain: set[tuple[str, str]] = set()
        for key, action in actions.items():
            if action.type is ActionType.REPLACE:
                deps[key + OLD] = set()
                certain.add((key, key + OLD))
            if action.desired is not None:
                certain |= {(key, d) for d in action.desired.dependencies() if d in actions}
            if action.type not in (ActionType.DELETE, ActionType.REPLACE):
                continue
            wanted = _gone(key, action)
            for user in desired_users.get(key, ()):
                certain.add((wanted, _gone(user, actions[user])))
            for user in observed_users.get(key, ()):
                user_action = actions.get(user)
                if user_action is None:
                    continue
                if user_action.type in (ActionType.DELETE, ActionType.REPLACE):
                    deps[wanted].add(_gone(user, user_action))
                elif user_action.type is ActionType.UPDATE and not (
                    user_action.desired is not None and key in user_action.desired.dependencies()
                ):  # it moves off this resource first (an update that needs the new one waits)
                    deps[wanted].add(user)
        for node, dep in certain:
            deps[node].add(dep)
        for key, action in actions.items():  # a delete never waits on what it references
            if action.type is ActionType.DELETE:
                deps[key] = {
                    d for d in deps[key] if actions[d.removesuffix(OLD)].type is not ActionType.NOOP
                }
        _drop_cycles(deps, certain)
        return deps

    async def _after_dependencies(
        self,
        action: Action,
        old_phase: bool,
        deps: set[str],
        phases: Mapping[str, ActionReport],
        observed: dict[str, Observed],
    ) -> ActionReport:
        for dep in sorted(deps):
            dep_report = phases.get(dep)
            if dep_report is None:
                continue
            if dep_report.outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.WAITING):
                if dep == action.key + OLD:  # this replacement's own delete
                    return dep_report
                what = dep.removesuffix(OLD)
                return ActionReport(action, Outcome.SKIPPED, f"{what} did not complete")
            dep_obs = observed.get(dep)
            needs_ready = (
                not old_phase
                and action.desired is not None
                and dep in action.desired.ready_dependencies()
            )
            if needs_ready and dep_obs is not None:
                kind = self.kinds[dep.split("/", 1)[0]]
                if not kind.is_ready(dep_obs):
                    return ActionReport(
                        action, Outcome.WAITING, f"waiting for {dep} to become ready"
                    )
        if action.held:
            return ActionReport(action, Outcome.HELD, action.held)
        if not action.is_write:
            return ActionReport(action, Outcome.UNCHANGED)
        async with self.semaphore:
            return await self._execute(action, observed, old_phase)

    async def _execute(
        self, action: Action, observed: dict[str, Observed], old_phase: bool = False
    ) -> ActionReport:
        """Carry out one write. A replacement's delete phase reports "start"; its create
        phase reports "end", so hooks see one write per action."""
        replacing = action.type is ActionType.REPLACE
        result = ActionReport(action, Outcome.DONE)
        if old_phase or not replacing:
            self.on_event("start", result)
        started = time.monotonic()
        try:
            with acting_as(action.kind):
                if old_phase:
                    assert action.observed is not None
                    await self.kinds[action.kind].delete(self.ctx, action.observed)
                    new = None
                else:
                    new = await self._write(action, observed)
            if new is not None:
                observed[action.key] = new
            elif action.type is ActionType.DELETE or old_phase:
                observed.pop(action.key, None)
        except Exception as exc:  # one failing action must not stop the rest
            error = self._typed(exc)
            result.outcome, result.message = Outcome.FAILED, str(error)
            if old_phase:
                result.message = f"deleting the resource it replaces: {error}"
            result.retry_after = _retry_delay(error)
        result.elapsed = time.monotonic() - started
        if not (old_phase and result.outcome is Outcome.DONE):
            self.on_event("end", result)
        return result

    async def _write(self, action: Action, observed: Mapping[str, Observed]) -> Observed | None:
        kind = self.kinds[action.kind]
        if action.type is ActionType.DELETE:
            assert action.observed is not None
            await kind.delete(self.ctx, action.observed)
            return None
        assert action.desired is not None
        outputs = {key: obs.outputs for key, obs in observed.items()}
        resolved = Resolved(
            action.kind,
            action.logical_id,
            resolve(action.desired.params, outputs),
            action.create_with,
        )
        if contains_unknown(resolved.params):
            missing = sorted(r.key for r in action.desired.refs() if r.key not in outputs)
            raise Retryable(f"references not resolved yet: {', '.join(missing)}", after=5.0)
        if action.type in (ActionType.CREATE, ActionType.REPLACE):
            return await kind.create(self.ctx, resolved)
        assert action.observed is not None
        delta = diff(kind, resolved.params, action.observed.fields)
        if not delta:
            return action.observed
        return await kind.update(self.ctx, resolved, action.observed, delta)

    def _typed(self, exc: Exception) -> EngineError:
        if isinstance(exc, EngineError):
            return exc
        if self.classify is not None:
            return self.classify(exc)
        return Retryable(f"{type(exc).__name__}: {exc}", after=30.0)


OLD = "#old"
"""Suffix of a replacement's first node: deleting the live resource."""


def _gone(key: str, action: Action) -> str:
    """The node after which the live resource of `key` no longer exists."""
    return key + OLD if action.type is ActionType.REPLACE else key


def _retry_delay(error: EngineError) -> float | None:
    """Seconds until trying again helps; None for errors only a spec change can fix."""
    if isinstance(error, Retryable):
        return error.after
    if isinstance(error, NotFound):  # often AWS being briefly behind after a create
        return 5.0
    return None


def _drop_cycles(deps: dict[str, set[str]], certain: set[tuple[str, str]]) -> None:
    """Break every wait cycle (possible between deletes and updates found in live fields)
    by dropping its last guessed edge; certain edges stay."""
    while (cycle := _find_cycle(deps)) is not None:
        guessed = [edge for edge in cycle if edge not in certain]
        node, dep = (guessed or cycle)[-1]
        deps[node].discard(dep)


def _find_cycle(deps: Mapping[str, set[str]]) -> list[tuple[str, str]] | None:
    """The edges of one wait cycle, its closing edge last; None when there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[tuple[str, str]] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(deps[node]):
            if state.get(dep) == 1:
                loop = [*path[path.index(dep) :], dep]
                return list(itertools.pairwise(loop))
            if state.get(dep) is None:
                found = visit(dep)
                if found is not None:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(deps):
        if state.get(node) is None:
            found = visit(node)
            if found is not None:
                return found
    return None
